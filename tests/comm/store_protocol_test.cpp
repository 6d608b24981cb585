// The store decoder on crafted byte strings: round trips, every truncation, and each kind of
// malformed frame. The wire bytes are checked against a hand-written frame.
#include <gtest/gtest.h>

#include "runtime/comm/store_protocol.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

using Status = StoreDecode::Status;

std::vector<uint8_t> le32(uint32_t v) {
  return {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 24)};
}

// A frame from raw parts: u32 length | op | body.
std::vector<uint8_t> frame(uint8_t op, std::vector<uint8_t> body) {
  std::vector<uint8_t> f = le32(static_cast<uint32_t>(body.size() + 1));
  f.push_back(op);
  f.insert(f.end(), body.begin(), body.end());
  return f;
}

std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<uint8_t> lstr(const std::string& s) {
  return cat({le32(static_cast<uint32_t>(s.size())), std::vector<uint8_t>(s.begin(), s.end())});
}

std::string decode_error(const std::vector<uint8_t>& bytes, size_t max_frame = kStoreMaxFrame) {
  const StoreDecode d = store_decode(bytes, max_frame);
  EXPECT_EQ(d.status, Status::Error);
  return d.error;
}

std::vector<StoreMessage> every_op() {
  return {store_hello("token"), store_set("k", {0, 1, 255}), store_get("key/1", 1234),
          store_wait({"a", "bb", std::string(kStoreMaxKey, 'x')}, 0), store_add("n", -5),
          store_check({"z"}), store_delete({"a", "b"}), store_ok(), store_value({}), store_int(INT64_MIN), store_bool(true),
          store_timeout({"missing"}), store_error("nope")};
}

void expect_same(const StoreMessage& a, const StoreMessage& b) {
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.token, b.token);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.keys, b.keys);
  EXPECT_EQ(a.timeout_ms, b.timeout_ms);
  EXPECT_EQ(a.number, b.number);
  EXPECT_EQ(a.flag, b.flag);
  EXPECT_EQ(a.text, b.text);
}

TEST(StoreProtocol, WireBytesOfGetMatchTheDocumentedLayout) {
  // u32 length = 1 + 4 + 4 + 2, op 0x03, u32 timeout 5, str "ab".
  const std::vector<uint8_t> expected = {11, 0, 0, 0, 0x03, 5, 0, 0, 0, 2, 0, 0, 0, 'a', 'b'};
  EXPECT_EQ(store_encode(store_get("ab", 5)), expected);
  // u32 length = 1 + (4 + 1) + 8, op 0x05, str "n", i64 -2 in two's complement.
  const std::vector<uint8_t> add = {14, 0, 0, 0, 0x05, 1, 0, 0, 0, 'n', 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(store_encode(store_add("n", -2)), add);
}

TEST(StoreProtocol, EveryOpRoundTrips) {
  for (const StoreMessage& m : every_op()) {
    const std::vector<uint8_t> bytes = store_encode(m);
    const StoreDecode d = store_decode(bytes);
    ASSERT_EQ(d.status, Status::Message) << store_op_name(m.op) << ": " << d.error;
    EXPECT_EQ(d.consumed, bytes.size());
    expect_same(d.message, m);
    // The encoding is canonical: what decodes re-encodes to the same bytes (a fuzzer's oracle).
    EXPECT_EQ(store_encode(d.message), bytes) << store_op_name(m.op);
  }
}

TEST(StoreProtocol, EveryStrictPrefixNeedsMore) {
  for (const StoreMessage& m : every_op()) {
    const std::vector<uint8_t> bytes = store_encode(m);
    for (size_t n = 0; n < bytes.size(); ++n) {
      const StoreDecode d = store_decode(std::span<const uint8_t>(bytes.data(), n));
      EXPECT_EQ(d.status, Status::NeedMore) << store_op_name(m.op) << " prefix " << n;
    }
  }
}

TEST(StoreProtocol, ConsumesOneFrameAtATime) {
  const std::vector<uint8_t> two = cat({store_encode(store_set("a", {7})), store_encode(store_check({"a"}))});
  const StoreDecode first = store_decode(two);
  ASSERT_EQ(first.status, Status::Message);
  EXPECT_EQ(first.message.op, StoreOp::Set);
  const StoreDecode second = store_decode(std::span<const uint8_t>(two).subspan(first.consumed));
  ASSERT_EQ(second.status, Status::Message);
  EXPECT_EQ(second.message.op, StoreOp::Check);
  EXPECT_EQ(first.consumed + second.consumed, two.size());
}

TEST(StoreProtocol, OversizedLengthIsRefusedFromItsFirstFourBytes) {
  EXPECT_NE(decode_error(le32(0xffffffffu)).find("over the limit"), std::string::npos);
  EXPECT_NE(decode_error(le32(static_cast<uint32_t>(kStoreMaxFrame + 1))).find("over the limit"), std::string::npos);
  // Before HELLO the server passes the small limit: a SET that would be fine later is refused.
  const std::vector<uint8_t> set = store_encode(store_set("k", std::vector<uint8_t>(1000, 1)));
  EXPECT_NE(decode_error(set, kStoreMaxHelloFrame).find("over the limit"), std::string::npos);
  EXPECT_EQ(store_decode(set).status, Status::Message);
  // An HTTP request read as a length is far over either limit.
  EXPECT_EQ(store_decode(std::vector<uint8_t>{'G', 'E', 'T', ' '}).status, Status::Error);
}

TEST(StoreProtocol, EmptyFrameAndUnknownOpsAreErrors) {
  EXPECT_NE(decode_error(le32(0)).find("length 0"), std::string::npos);
  for (uint8_t op : {0x00, 0x08, 0x80, 0x87, 0xff})
    EXPECT_NE(decode_error(frame(op, {})).find("unknown op"), std::string::npos) << int{op};
}

TEST(StoreProtocol, KeyLimitsAreEnforced) {
  const std::string too_long(kStoreMaxKey + 1, 'k');
  EXPECT_NE(decode_error(frame(0x02, cat({lstr(too_long), lstr("v")}))).find("key is 4097 bytes"), std::string::npos);
  // An announced length is checked against the limit before the bytes are looked for.
  EXPECT_NE(decode_error(frame(0x02, le32(1u << 31))).find("over the limit"), std::string::npos);
  EXPECT_NE(decode_error(frame(0x02, cat({lstr(""), lstr("v")}))).find("key is empty"), std::string::npos);
  EXPECT_NE(decode_error(frame(0x03, cat({le32(5), le32(100), {'a', 'b'}}))).find("truncated"), std::string::npos);
}

TEST(StoreProtocol, TruncatedFieldsInsideACompleteFrameAreErrors) {
  EXPECT_NE(decode_error(frame(0x05, lstr("k"))).find("truncated delta"), std::string::npos);
  EXPECT_NE(decode_error(frame(0x03, {1, 2})).find("truncated timeout"), std::string::npos);
  EXPECT_NE(decode_error(frame(0x84, {})).find("truncated flag"), std::string::npos);
}

TEST(StoreProtocol, TrailingBytesBadMagicAndBadFlagAreErrors) {
  EXPECT_NE(decode_error(frame(0x81, {0})).find("1 trailing bytes"), std::string::npos);
  EXPECT_NE(decode_error(frame(0x01, cat({le32(0x12345678), le32(1), lstr("t")}))).find("bad magic"),
            std::string::npos);
  EXPECT_NE(decode_error(frame(0x84, {2})).find("neither 0 nor 1"), std::string::npos);
  EXPECT_NE(decode_error(frame(0x01, cat({le32(kStoreMagic), le32(1), lstr(std::string(kStoreMaxToken + 1, 't'))})))
                .find("token is 257 bytes"),
            std::string::npos);
}

TEST(StoreProtocol, KeyCountsAreBounded) {
  EXPECT_NE(decode_error(frame(0x06, le32(0))).find("outside 1..1024"), std::string::npos);
  EXPECT_NE(decode_error(frame(0x06, le32(1025))).find("outside 1..1024"), std::string::npos);
  // 1000 keys announced in a frame with room for none: refused before reserving.
  EXPECT_NE(decode_error(frame(0x06, cat({le32(1000), lstr("a")}))).find("does not fit"), std::string::npos);
}

TEST(StoreProtocol, EncoderRefusesWhatTheDecoderWould) {
  try {
    store_encode(store_set(std::string(kStoreMaxKey + 1, 'q'), {}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is 4097 bytes (limit 4096)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store_encode(store_set("", {})), Error);
  EXPECT_THROW(store_encode(store_check({})), Error);
  EXPECT_THROW(store_encode(store_set("big", std::vector<uint8_t>(kStoreMaxValue + 1))), Error);
  // The largest legal frame decodes.
  const std::vector<uint8_t> max = store_encode(store_set(std::string(kStoreMaxKey, 'k'), std::vector<uint8_t>(kStoreMaxValue)));
  EXPECT_EQ(max.size(), 4 + kStoreMaxFrame);
  EXPECT_EQ(store_decode(max).status, Status::Message);
}

}  // namespace
}  // namespace ps
