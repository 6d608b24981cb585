#include "runtime/core/json_util.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/files.h"

namespace ps {

std::string text_excerpt(std::string_view text, size_t max_bytes) {
  std::string out;
  const size_t n = std::min(text.size(), max_bytes);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (text.size() > n) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

namespace {

// Builds the value from nlohmann's SAX events, refusing what its DOM parser would let through: a
// key given twice in one object (the DOM parser keeps the last). A syntax error arrives with its
// byte offset, which the DOM parser's out_of_range errors ("1e999") lack.
struct StrictBuilder {
  struct Open {
    Json* value;      // an object or array still being filled
    std::string key;  // an object's key whose value comes next
  };
  size_t size = 0;  // of the text, for error offsets
  Json root;
  std::vector<Open> open;
  std::string error;  // set when parsing stopped

  // The innermost key's JSON path for messages ("stages[1].layers"): an open array's open element
  // is its last.
  std::string path() const {
    std::string p;
    for (const Open& o : open)
      p = o.value->is_array() ? json_path(p, o.value->size() - 1) : json_path(p, text_excerpt(o.key, 40));
    return p;
  }
  Json* put(Json v) {
    if (open.empty()) return &(root = std::move(v));
    Json& c = *open.back().value;
    if (c.is_array()) {
      c.push_back(std::move(v));
      return &c.back();
    }
    return &(c[open.back().key] = std::move(v));
  }
  bool value(Json v) {
    put(std::move(v));
    return true;
  }
  bool start(Json v) {
    open.push_back({put(std::move(v)), {}});
    return true;
  }

  bool null() { return value(nullptr); }
  bool boolean(bool v) { return value(v); }
  bool number_integer(Json::number_integer_t v) { return value(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return value(v); }
  bool number_float(Json::number_float_t v, const std::string&) { return value(v); }
  bool string(std::string& v) { return value(std::move(v)); }
  bool binary(Json::binary_t& v) { return value(Json::binary(std::move(v))); }
  bool start_object(size_t) { return start(Json::object()); }
  bool start_array(size_t) { return start(Json::array()); }
  bool end_object() { return end(); }
  bool end_array() { return end(); }
  bool end() {
    open.pop_back();
    return true;
  }
  bool key(std::string& k) {
    if (open.back().value->contains(k)) {
      open.back().key = k;
      error = path() + ": key appears twice in one object (JSON leaves which one counts undefined)";
      return false;
    }
    open.back().key = std::move(k);
    return true;
  }
  bool parse_error(size_t byte, const std::string& token, const nlohmann::detail::exception& e) {
    // nlohmann's message quotes the token read so far, which can be a whole long string: shorten it.
    std::string msg = e.what();
    const auto close = msg.find("] ");
    if (close != std::string::npos) msg = msg.substr(close + 2);
    if (token.size() > 40) {
      const auto at = msg.find(token);
      if (at != std::string::npos) msg.replace(at, token.size(), text_excerpt(token, 40));
    }
    // nlohmann counts the bytes read, the offending one included: the offset is one less.
    error = "not valid JSON: byte " + std::to_string(std::min(byte > 0 ? byte - 1 : 0, size)) + ": " + msg;
    return false;
  }
};

}  // namespace

Json json_parse(std::string_view text, const std::string& what) {
  // nlohmann's lexer takes a NUL for the end of the input and would ignore whatever follows it.
  const size_t nul = text.find('\0');
  if (nul != std::string_view::npos) fail_input(what, ": not valid JSON: byte ", nul, ": a NUL byte");
  StrictBuilder b;
  b.size = text.size();
  // strict: the whole text is one value; only whitespace may follow it.
  if (!Json::sax_parse(text.begin(), text.end(), &b, Json::input_format_t::json, true)) fail_input(what, ": ", b.error);
  return std::move(b.root);
}

Json json_read_file(const std::string& path, FileCap cap) { return json_parse(file_read_all(path, cap), path); }

std::string json_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string json_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string> did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_d = 0;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(name, c);
    if (!best || d < best_d) {
      best = c;
      best_d = d;
    }
  }
  // A typo changes a few characters: allow up to a third of the longer name (at least 1, at most 3).
  const size_t limit = std::clamp<size_t>(std::max(name.size(), best ? best->size() : 0) / 3, 1, 3);
  if (best && best_d <= limit) return best;
  return std::nullopt;
}

const char* json_type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "object";
    case Json::value_t::array: return "array";
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "number";
    default: return "value";
  }
}

std::string JsonField::path(const char* key) const {
  if (where.empty()) return key;
  // "plan.json: stages[1]" + "layers" -> "plan.json: stages[1].layers"; a location without a JSON
  // path ends with ':' ("requests.jsonl: line 3:") and is followed by a space instead.
  return where + (where.back() == ':' ? " " : ".") + key;
}

bool JsonField::has(const char* key) const { return obj.is_object() && obj.contains(key) && !obj.at(key).is_null(); }

const Json& JsonField::require(const char* key) const {
  if (!obj.is_object()) fail_input(where, ": expected an object, got ", json_type_name(obj));
  if (!has(key)) fail_input(path(key), ": required key is missing");
  return obj.at(key);
}

std::string JsonField::require_string(const char* key) const {
  const Json& v = require(key);
  if (!v.is_string()) fail_input(path(key), ": expected a string, got ", json_type_name(v));
  return v.get<std::string>();
}

int64_t json_int(const Json& v, const std::string& where) {
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail_input(where, ": ", v.dump(), " is too large");
  if (v.is_number_integer()) return v.get<int64_t>();
  // 4.0 is an integer written as a float; 4.5 is not. nlohmann reads an integer beyond 64 bits as a
  // double, rounded: one beyond 2^53 is refused rather than taken as a neighbour of what was written.
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d >= -0x1p53 && d <= 0x1p53 && d == std::trunc(d)) return static_cast<int64_t>(d);
    if (d == std::trunc(d)) fail_input(where, ": ", v.dump(), " is outside the integer range (or not exact as written)");
  }
  fail_input(where, ": expected an integer, got ", json_type_name(v), " ", v.dump());
}

int64_t JsonField::require_int(const char* key) const { return json_int(require(key), path(key)); }

uint64_t JsonField::require_uint64(const char* key) const {
  const Json& v = require(key);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  const int64_t i = json_int(v, path(key));
  if (i < 0) fail_input(path(key), ": must be >= 0, got ", i);
  return static_cast<uint64_t>(i);
}

double JsonField::require_number(const char* key) const {
  const Json& v = require(key);
  if (!v.is_number()) fail_input(path(key), ": expected a number, got ", json_type_name(v));
  return v.get<double>();
}

bool JsonField::require_bool(const char* key) const {
  const Json& v = require(key);
  if (!v.is_boolean()) fail_input(path(key), ": expected true or false, got ", json_type_name(v));
  return v.get<bool>();
}

std::string JsonField::get_string(const char* key, const std::string& dflt) const {
  return has(key) ? require_string(key) : dflt;
}
int64_t JsonField::get_int(const char* key, int64_t dflt) const { return has(key) ? require_int(key) : dflt; }
double JsonField::get_number(const char* key, double dflt) const { return has(key) ? require_number(key) : dflt; }
bool JsonField::get_bool(const char* key, bool dflt) const { return has(key) ? require_bool(key) : dflt; }

void JsonField::reject_unknown_keys(const std::vector<std::string>& known) const {
  if (!obj.is_object()) fail_input(where, ": expected an object, got ", json_type_name(obj));
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
    const auto hint = did_you_mean(it.key(), known);
    fail_input(path(text_excerpt(it.key()).c_str()), ": unknown key", hint ? " (did you mean '" + *hint + "'?)" : std::string());
  }
}

}  // namespace ps
