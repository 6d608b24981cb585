// The rendezvous store's wire protocol, version 1: the frames, their encoder and their decoder.
//
// A connection carries frames in both directions. Integers are little-endian.
//
//   frame := u32 length | u8 op | body      length = 1 + |body|, 1 <= length <= the frame limit
//   str   := u32 n | n bytes                keys 1..4096 bytes, token <= 256, error text <= 4096,
//                                           values <= 64 MiB
//   keys  := u32 count | count x str        1..1024 keys
//
// Requests (client -> server). A client sends one request and reads its reply before the next.
//   0x01 HELLO  u32 magic "PSST" | u32 version | str token  -> OK; or ERROR, then the server closes
//   0x02 SET    str key | str value                        -> OK
//   0x03 GET    u32 timeout_ms | str key                   -> VALUE; TIMEOUT [key] when it passed
//   0x04 WAIT   u32 timeout_ms | keys                      -> OK; TIMEOUT [keys still missing]
//   0x05 ADD    str key | i64 delta                        -> INT (the new value); ERROR
//   0x06 CHECK  keys                                       -> BOOL (whether all are set)
//   0x07 DELETE keys                                       -> OK (absent keys are ignored)
// Replies (server -> client):
//   0x81 OK     (empty)
//   0x82 VALUE  str value
//   0x83 INT    i64
//   0x84 BOOL   u8 0 or 1
//   0x85 TIMEOUT keys
//   0x86 ERROR  str message
//
// The first frame of a connection must be a HELLO with the job token, and until it is accepted
// frames are limited to kStoreMaxHelloFrame bytes, so a stranger can make the server allocate
// almost nothing. A malformed frame, a wrong magic, version or token closes that connection
// only. Every field is validated before use; a frame must be consumed exactly (no trailing bytes).
// The decoder is a pure function over bytes, so libFuzzer can call it directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ps {

constexpr uint32_t kStoreProtocolVersion = 1;
constexpr uint32_t kStoreMagic = 0x54535350;  // "PSST" as little-endian bytes
constexpr size_t kStoreMaxKey = 4096;
constexpr size_t kStoreMaxValue = size_t{64} << 20;
constexpr size_t kStoreMaxToken = 256;
constexpr size_t kStoreMaxErrorText = 4096;
constexpr size_t kStoreMaxKeys = 1024;
// The largest frame (the u32 length value): a SET of the largest key and value, plus headers.
constexpr size_t kStoreMaxFrame = 1 + 4 + kStoreMaxKey + 4 + kStoreMaxValue;
// The largest frame before HELLO is accepted: a HELLO with the largest token.
constexpr size_t kStoreMaxHelloFrame = 1 + 4 + 4 + 4 + kStoreMaxToken;

enum class StoreOp : uint8_t {
  Hello = 0x01,
  Set = 0x02,
  Get = 0x03,
  Wait = 0x04,
  Add = 0x05,
  Check = 0x06,
  Delete = 0x07,
  Ok = 0x81,
  Value = 0x82,
  Int = 0x83,
  Bool = 0x84,
  Timeout = 0x85,
  Error = 0x86,
};

const char* store_op_name(StoreOp op);  // "HELLO", "SET", ...; "?" for a value outside the enum

// One frame, parsed. Only the fields of its op are meaningful (see the table above).
struct StoreMessage {
  StoreOp op = StoreOp::Ok;
  uint32_t version = 0;            // HELLO (the magic is checked by the decoder, not kept)
  std::string token;               // HELLO
  std::string key;                 // SET, GET, ADD
  std::vector<uint8_t> value;      // SET, VALUE
  std::vector<std::string> keys;   // WAIT, CHECK, DELETE, TIMEOUT
  uint32_t timeout_ms = 0;         // GET, WAIT
  int64_t number = 0;              // ADD (delta), INT
  bool flag = false;               // BOOL
  std::string text;                // ERROR
};

struct StoreDecode {
  enum class Status { NeedMore, Message, Error };
  Status status = Status::NeedMore;
  StoreMessage message;  // Status::Message
  size_t consumed = 0;   // Status::Message: the bytes of this frame, length field included
  std::string error;     // Status::Error: why the bytes are not a valid frame
};

// Decodes the first frame at the front of `buf`. NeedMore when `buf` holds only part of a valid
// frame; Error as soon as the bytes cannot start a valid frame (a length over `max_frame` is
// refused from its first 4 bytes, before anything is allocated).
StoreDecode store_decode(std::span<const uint8_t> buf, size_t max_frame = kStoreMaxFrame);

// One builder per op, so callers and tests never fill a field the op does not use.
StoreMessage store_hello(std::string token, uint32_t version = kStoreProtocolVersion);
StoreMessage store_set(std::string key, std::vector<uint8_t> value);
StoreMessage store_get(std::string key, uint32_t timeout_ms);
StoreMessage store_wait(std::vector<std::string> keys, uint32_t timeout_ms);
StoreMessage store_add(std::string key, int64_t delta);
StoreMessage store_check(std::vector<std::string> keys);
StoreMessage store_delete(std::vector<std::string> keys);
StoreMessage store_ok();
StoreMessage store_value(std::vector<uint8_t> value);
StoreMessage store_int(int64_t value);
StoreMessage store_bool(bool value);
StoreMessage store_timeout(std::vector<std::string> missing_keys);
StoreMessage store_error(std::string text);

// The frame for `m`. Throws ps::Error naming the key when a field is over its limit (a key over
// 4 KiB, a value over 64 MiB), so nothing the decoder would refuse is ever sent.
std::vector<uint8_t> store_encode(const StoreMessage& m);

}  // namespace ps
