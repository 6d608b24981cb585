#include "runtime/core/json_util.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/files.h"

namespace ps {

Json json_parse(std::string_view text, const std::string& what) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    // nlohmann's message carries the byte position; keep it, drop its "[json.exception...]" tag.
    std::string msg = e.what();
    const auto close = msg.find("] ");
    if (close != std::string::npos) msg = msg.substr(close + 2);
    fail_input(what, ": not valid JSON: ", msg);
  }
}

Json json_read_file(const std::string& path) { return json_parse(file_read_all(path), path); }

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

int64_t JsonField::require_int(const char* key) const {
  const Json& v = require(key);
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail_input(path(key), ": ", v.dump(), " is too large");
  if (v.is_number_integer()) return v.get<int64_t>();
  // 4.0 is an integer written as a float; 4.5 is not. The range is checked before the cast, which
  // is undefined for a double outside int64 (1e300).
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d >= -0x1p63 && d < 0x1p63 && d == std::trunc(d)) return static_cast<int64_t>(d);
  }
  fail_input(path(key), ": expected an integer, got ", json_type_name(v), " ", v.dump());
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
    fail_input(path(it.key().c_str()), ": unknown key", hint ? " (did you mean '" + *hint + "'?)" : std::string());
  }
}

}  // namespace ps
