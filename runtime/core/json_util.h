// Small JSON helpers shared by every reader of user files (config.json, plans, cluster specs,
// request lines). Their job is good error messages: every error names the file and the JSON path
// (`stages[2].layers`) and says which rule was broken, as ps::Error(InvalidInput).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ps {

using Json = nlohmann::json;

// Parses a whole file. A missing file or a syntax error -> InvalidInput "<file>: ...".
Json json_read_file(const std::string& path);
// Parses text; `what` names the source in errors (a file, "line 3 of requests.jsonl").
Json json_parse(std::string_view text, const std::string& what);

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
