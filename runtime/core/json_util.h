// Small JSON helpers shared by every reader of user files (config.json, plans, cluster specs,
// request lines). Their job is good error messages: every error names the file and the JSON path
// (`stages[2].layers`) and says which rule was broken, as ps::Error(InvalidInput).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/files.h"

namespace ps {

using Json = nlohmann::json;

// Parses a whole file of at most cap.max_bytes. A missing file, one that is not a regular file,
// one over the cap or a syntax error -> InvalidInput "<file>: ...".
Json json_read_file(const std::string& path, FileCap cap = kJsonFileCap);
// Parses text strictly; `what` names the source in errors ("f.json", "f.jsonl: line 3"). Refused,
// naming the byte offset: anything but whitespace after the value, a NUL byte anywhere, invalid
// UTF-8 in a string, a number beyond double (1e999); and a key given twice in one object, naming
// its path. Every reader of a file's or a line's JSON goes through here.
Json json_parse(std::string_view text, const std::string& what);

// At most `max_bytes` of `text` for a message, bytes outside printable ASCII as \xNN, and the
// full length when cut: a 10 MB key must not become a 10 MB message.
std::string text_excerpt(std::string_view text, size_t max_bytes = 40);

// An integer JSON value as an int64, never wrapped: beyond int64, a fraction, or a float too large
// to be exact (above 2^53) is InvalidInput at `where`.
int64_t json_int(const Json& v, const std::string& where);

// "stages" + 2 -> "stages[2]"; "" + "model" -> "model"; "a" + "b" -> "a.b".
std::string json_path(const std::string& parent, const std::string& key);
std::string json_path(const std::string& parent, size_t index);

// The candidate closest to `name` by edit distance, if it is close enough to be a likely typo.
std::optional<std::string> did_you_mean(std::string_view name, const std::vector<std::string>& candidates);
size_t edit_distance(std::string_view a, std::string_view b);

// Reads `obj[key]` checking its type. `where` is "<file>: <path>" for messages.
// require_*: a missing key is an error; get_*: a missing key gives the default.
struct JsonField {
  const Json& obj;
  std::string where;  // a JSON path ("plan.json: stages[1]") or a location ending in ':' ("f.jsonl: line 3:")

  bool has(const char* key) const;
  const Json& require(const char* key) const;
  std::string require_string(const char* key) const;
  int64_t require_int(const char* key) const;
  uint64_t require_uint64(const char* key) const;  // 0..2^64-1; a negative value is refused
  double require_number(const char* key) const;
  bool require_bool(const char* key) const;
  std::string get_string(const char* key, const std::string& dflt) const;
  int64_t get_int(const char* key, int64_t dflt) const;
  double get_number(const char* key, double dflt) const;
  bool get_bool(const char* key, bool dflt) const;
  std::string path(const char* key) const;  // "<where>.<key>"
  // Any key not in `known` is an error naming it, with a did-you-mean when one is close.
  void reject_unknown_keys(const std::vector<std::string>& known) const;
};

// JSON type name for messages: "string", "number", "object", ...
const char* json_type_name(const Json& j);

}  // namespace ps
