#include "runtime/comm/store_protocol.h"

#include <ios>

#include "runtime/core/error.h"

namespace ps {

const char* store_op_name(StoreOp op) {
  switch (op) {
    case StoreOp::Hello: return "HELLO";
    case StoreOp::Set: return "SET";
    case StoreOp::Get: return "GET";
    case StoreOp::Wait: return "WAIT";
    case StoreOp::Add: return "ADD";
    case StoreOp::Check: return "CHECK";
    case StoreOp::Delete: return "DELETE";
    case StoreOp::Ok: return "OK";
    case StoreOp::Value: return "VALUE";
    case StoreOp::Int: return "INT";
    case StoreOp::Bool: return "BOOL";
    case StoreOp::Timeout: return "TIMEOUT";
    case StoreOp::Error: return "ERROR";
  }
  return "?";
}

namespace {

uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Reads the fields of one complete frame. The first failure sticks and later reads return
// empty values, so a parse is a straight line of reads followed by one check.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool ok() const { return err_.empty(); }
  const std::string& error() const { return err_; }
  size_t remaining() const { return b_.size() - pos_; }
  void fail(std::string e) {
    if (err_.empty()) err_ = std::move(e);
  }

  uint8_t u8(const char* what) { return take(1, what) ? b_[pos_ - 1] : 0; }
  uint32_t u32(const char* what) { return take(4, what) ? load_u32(&b_[pos_ - 4]) : 0; }
  int64_t i64(const char* what) {
    if (!take(8, what)) return 0;
    const uint64_t v = uint64_t{load_u32(&b_[pos_ - 8])} | uint64_t{load_u32(&b_[pos_ - 4])} << 32;
    return static_cast<int64_t>(v);
  }
  // A length-prefixed string of min..max bytes; the length is checked before anything is copied.
  std::string str(size_t min, size_t max, const char* what) {
    const size_t n = u32(what);
    if (!ok()) return {};
    if (n < min) fail(str_of(what, " is empty"));
    else if (n > max) fail(str_of(what, " is ", n, " bytes, over the limit of ", max));
    else if (n > remaining()) fail(str_of(what, " is truncated (", n, " bytes announced, ", remaining(), " left)"));
    if (!ok()) return {};
    pos_ += n;
    return std::string(reinterpret_cast<const char*>(&b_[pos_ - n]), n);
  }
  std::vector<uint8_t> bytes(size_t max, const char* what) {
    const std::string s = str(0, max, what);
    return std::vector<uint8_t>(s.begin(), s.end());
  }
  std::vector<std::string> keys() {
    const size_t count = u32("key count");
    if (!ok()) return {};
    // Each key needs at least its 4-byte length, so a count the frame cannot hold is refused
    // before the vector is reserved.
    if (count == 0 || count > kStoreMaxKeys) fail(str_of("key count ", count, " is outside 1..", kStoreMaxKeys));
    else if (count * 4 > remaining()) fail(str_of("key count ", count, " does not fit in the frame"));
    std::vector<std::string> out;
    if (!ok()) return out;
    out.reserve(count);
    for (size_t i = 0; i < count && ok(); ++i) out.push_back(str(1, kStoreMaxKey, "key"));
    return out;
  }

 private:
  template <class... A>
  static std::string str_of(A&&... a) {
    return ::ps::str(std::forward<A>(a)...);
  }
  bool take(size_t n, const char* what) {
    if (!ok()) return false;
    if (remaining() < n) {
      fail(str_of("truncated ", what));
      return false;
    }
    pos_ += n;
    return true;
  }

  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  std::string err_;
};

StoreDecode decode_error(std::string why) {
  StoreDecode d;
  d.status = StoreDecode::Status::Error;
  d.error = std::move(why);
  return d;
}

// The body of a frame whose op byte has been read; false for an op outside the protocol.
bool parse_body(Reader& r, StoreOp op, StoreMessage& m) {
  switch (op) {
    case StoreOp::Hello:
      if (r.u32("magic") != kStoreMagic && r.ok()) r.fail("bad magic (not a pipeshard store client)");
      m.version = r.u32("version");
      m.token = r.str(0, kStoreMaxToken, "token");
      return true;
    case StoreOp::Set:
      m.key = r.str(1, kStoreMaxKey, "key");
      m.value = r.bytes(kStoreMaxValue, "value");
      return true;
    case StoreOp::Get:
      m.timeout_ms = r.u32("timeout");
      m.key = r.str(1, kStoreMaxKey, "key");
      return true;
    case StoreOp::Wait:
      m.timeout_ms = r.u32("timeout");
      m.keys = r.keys();
      return true;
    case StoreOp::Add:
      m.key = r.str(1, kStoreMaxKey, "key");
      m.number = r.i64("delta");
      return true;
    case StoreOp::Check:
    case StoreOp::Delete:
    case StoreOp::Timeout:
      m.keys = r.keys();
      return true;
    case StoreOp::Ok: return true;
    case StoreOp::Value: m.value = r.bytes(kStoreMaxValue, "value"); return true;
    case StoreOp::Int: m.number = r.i64("value"); return true;
    case StoreOp::Bool: {
      const uint8_t b = r.u8("flag");
      if (b > 1 && r.ok()) r.fail(str("flag byte ", int{b}, " is neither 0 nor 1"));
      m.flag = b == 1;
      return true;
    }
    case StoreOp::Error: m.text = r.str(0, kStoreMaxErrorText, "error text"); return true;
  }
  return false;
}

}  // namespace

StoreDecode store_decode(std::span<const uint8_t> buf, size_t max_frame) {
  if (buf.size() < 4) return {};
  const uint32_t len = load_u32(buf.data());
  if (len == 0) return decode_error("empty frame (length 0)");
  if (len > max_frame) return decode_error(str("frame of ", len, " bytes is over the limit of ", max_frame));
  if (buf.size() - 4 < len) return {};

  Reader r(buf.subspan(4, len));
  StoreDecode d;
  const auto op = static_cast<StoreOp>(r.u8("op"));
  d.message.op = op;
  if (!parse_body(r, op, d.message))
    return decode_error(str("unknown op 0x", std::hex, static_cast<int>(op)));
  if (r.ok() && r.remaining() != 0) r.fail(str(r.remaining(), " trailing bytes"));
  if (!r.ok()) return decode_error(str(store_op_name(op), ": ", r.error()));
  d.status = StoreDecode::Status::Message;
  d.consumed = 4 + size_t{len};
  return d;
}

namespace {

class Writer {
 public:
  explicit Writer(StoreOp op) : b_(4, 0) { b_.push_back(static_cast<uint8_t>(op)); }
  void u8(uint8_t v) { b_.push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) b_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void i64(int64_t v) {
    const auto u = static_cast<uint64_t>(v);
    u32(static_cast<uint32_t>(u));
    u32(static_cast<uint32_t>(u >> 32));
  }
  void bytes(const void* p, size_t n) {
    u32(static_cast<uint32_t>(n));
    const auto* c = static_cast<const uint8_t*>(p);
    b_.insert(b_.end(), c, c + n);
  }
  void str(const std::string& s) { bytes(s.data(), s.size()); }
  std::vector<uint8_t> finish() {
    const auto len = static_cast<uint32_t>(b_.size() - 4);
    for (int i = 0; i < 4; ++i) b_[static_cast<size_t>(i)] = static_cast<uint8_t>(len >> (8 * i));
    return std::move(b_);
  }

 private:
  std::vector<uint8_t> b_;
};

// Keys may be long or binary; error messages show a bounded prefix.
std::string key_for_message(const std::string& key) {
  return key.size() <= 80 ? "'" + key + "'" : "'" + key.substr(0, 80) + "...'";
}

void check_key(const std::string& key) {
  if (key.empty()) fail_runtime("store: empty key");
  if (key.size() > kStoreMaxKey)
    fail_runtime("store: key ", key_for_message(key), " is ", key.size(), " bytes (limit ", kStoreMaxKey, ")");
}

void write_keys(Writer& w, const std::vector<std::string>& keys) {
  if (keys.empty() || keys.size() > kStoreMaxKeys)
    fail_runtime("store: ", keys.size(), " keys in one request (allowed 1..", kStoreMaxKeys, ")");
  w.u32(static_cast<uint32_t>(keys.size()));
  for (const std::string& k : keys) {
    check_key(k);
    w.str(k);
  }
}

}  // namespace

namespace {
StoreMessage with_op(StoreOp op) {
  StoreMessage m;
  m.op = op;
  return m;
}
}  // namespace

StoreMessage store_hello(std::string token, uint32_t version) {
  StoreMessage m = with_op(StoreOp::Hello);
  m.version = version;
  m.token = std::move(token);
  return m;
}
StoreMessage store_set(std::string key, std::vector<uint8_t> value) {
  StoreMessage m = with_op(StoreOp::Set);
  m.key = std::move(key);
  m.value = std::move(value);
  return m;
}
StoreMessage store_get(std::string key, uint32_t timeout_ms) {
  StoreMessage m = with_op(StoreOp::Get);
  m.key = std::move(key);
  m.timeout_ms = timeout_ms;
  return m;
}
StoreMessage store_wait(std::vector<std::string> keys, uint32_t timeout_ms) {
  StoreMessage m = with_op(StoreOp::Wait);
  m.keys = std::move(keys);
  m.timeout_ms = timeout_ms;
  return m;
}
StoreMessage store_add(std::string key, int64_t delta) {
  StoreMessage m = with_op(StoreOp::Add);
  m.key = std::move(key);
  m.number = delta;
  return m;
}
StoreMessage store_check(std::vector<std::string> keys) {
  StoreMessage m = with_op(StoreOp::Check);
  m.keys = std::move(keys);
  return m;
}
StoreMessage store_delete(std::vector<std::string> keys) {
  StoreMessage m = with_op(StoreOp::Delete);
  m.keys = std::move(keys);
  return m;
}
StoreMessage store_ok() { return with_op(StoreOp::Ok); }
StoreMessage store_value(std::vector<uint8_t> value) {
  StoreMessage m = with_op(StoreOp::Value);
  m.value = std::move(value);
  return m;
}
StoreMessage store_int(int64_t value) {
  StoreMessage m = with_op(StoreOp::Int);
  m.number = value;
  return m;
}
StoreMessage store_bool(bool value) {
  StoreMessage m = with_op(StoreOp::Bool);
  m.flag = value;
  return m;
}
StoreMessage store_timeout(std::vector<std::string> missing_keys) {
  StoreMessage m = with_op(StoreOp::Timeout);
  m.keys = std::move(missing_keys);
  return m;
}
StoreMessage store_error(std::string text) {
  StoreMessage m = with_op(StoreOp::Error);
  m.text = std::move(text);
  return m;
}

std::vector<uint8_t> store_encode(const StoreMessage& m) {
  Writer w(m.op);
  switch (m.op) {
    case StoreOp::Hello:
      if (m.token.size() > kStoreMaxToken)
        fail_input("job token is ", m.token.size(), " bytes (limit ", kStoreMaxToken, ")");
      w.u32(kStoreMagic);
      w.u32(m.version);
      w.str(m.token);
      break;
    case StoreOp::Set:
    case StoreOp::Value:
      if (m.op == StoreOp::Set) {
        check_key(m.key);
        w.str(m.key);
      }
      if (m.value.size() > kStoreMaxValue)
        fail_runtime("store: value for key ", key_for_message(m.key), " is ", m.value.size(), " bytes (limit ",
                     kStoreMaxValue >> 20, " MiB)");
      w.bytes(m.value.data(), m.value.size());
      break;
    case StoreOp::Get:
      w.u32(m.timeout_ms);
      check_key(m.key);
      w.str(m.key);
      break;
    case StoreOp::Wait:
      w.u32(m.timeout_ms);
      write_keys(w, m.keys);
      break;
    case StoreOp::Add:
      check_key(m.key);
      w.str(m.key);
      w.i64(m.number);
      break;
    case StoreOp::Check:
    case StoreOp::Delete:
    case StoreOp::Timeout: write_keys(w, m.keys); break;
    case StoreOp::Ok: break;
    case StoreOp::Int: w.i64(m.number); break;
    case StoreOp::Bool: w.u8(m.flag ? 1 : 0); break;
    case StoreOp::Error:
      // Our own text; cut rather than refuse so a long reason still reaches the client.
      w.str(m.text.substr(0, kStoreMaxErrorText));
      break;
    default: fail_runtime("store_encode: unknown op ", static_cast<int>(m.op));
  }
  return w.finish();
}

}  // namespace ps
