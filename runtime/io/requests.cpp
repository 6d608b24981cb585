#include "runtime/io/requests.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_set>

#include "runtime/core/error.h"
#include "runtime/core/files.h"

namespace ps {

std::string RequestOrigin::where() const { return file + ": line " + std::to_string(line); }

namespace {

const std::vector<std::string> kTokenKeys = {"id", "prompt_ids", "max_new_tokens", "stop_ids", "temperature",
                                             "top_k", "top_p", "seed"};
const std::vector<std::string> kMlpKeys = {"id", "input"};
// Numbers are stored as float32: a larger double would turn into infinity.
constexpr double kFloatMax = std::numeric_limits<float>::max();

std::vector<int32_t> parse_token_list(const JsonField& f, const char* key, const ModelSpec& spec) {
  const Json& arr = f.require(key);
  if (!arr.is_array()) fail_input(f.path(key), ": expected an array of token ids, got ", json_type_name(arr));
  std::vector<int32_t> ids;
  ids.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    const Json& v = arr[i];
    const std::string where = json_path(f.path(key), i);
    if (!v.is_number_integer()) fail_input(where, ": expected an integer token id, got ", json_type_name(v));
    // nlohmann keeps a non-negative id unsigned; one past int64 must not wrap to a small number.
    const bool outside = v.is_number_unsigned() ? v.get<uint64_t>() >= static_cast<uint64_t>(spec.vocab_size)
                                                : v.get<int64_t>() < 0 || v.get<int64_t>() >= spec.vocab_size;
    if (outside) fail_input(where, ": token ", v.dump(), " is outside the vocabulary (size ", spec.vocab_size, ")");
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return ids;
}

}  // namespace

Request request_parse(std::string_view line, const ModelSpec& spec, const RequestOrigin& src) {
  const Json j = json_parse(line, src.where());
  if (!j.is_object()) fail_input(src.where(), ": expected a JSON object, got ", json_type_name(j));
  const JsonField f{j, src.where() + ":"};
  Request r;
  const Json& id = f.require("id");
  // An integer id is kept as written: a 64-bit one exactly (18446744073709551615 stays that, never
  // -1); a larger one nlohmann could only round, so it is refused in favour of a string.
  if (id.is_string()) r.id = id.get<std::string>();
  else if (id.is_number_unsigned()) r.id = std::to_string(id.get<uint64_t>());
  else if (id.is_number_integer()) r.id = std::to_string(id.get<int64_t>());
  else if (id.is_number_float() && id.get<double>() == std::trunc(id.get<double>()))
    fail_input(f.path("id"), ": ", id.dump(), " is beyond a 64-bit integer; write such an id as a string");
  else fail_input(f.path("id"), ": expected a string, got ", json_type_name(id));

  if (spec.family == Family::Mlp) {
    f.reject_unknown_keys(kMlpKeys);
    const Json& in = f.require("input");
    if (!in.is_array()) fail_input(f.path("input"), ": expected an array of numbers, got ", json_type_name(in));
    if (static_cast<int64_t>(in.size()) != spec.input_size)
      fail_input(f.path("input"), ": has ", in.size(), " numbers; the model takes ", spec.input_size);
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i].is_number()) fail_input(json_path(f.path("input"), i), ": expected a number, got ", json_type_name(in[i]));
      const double v = in[i].get<double>();
      if (!(std::fabs(v) <= kFloatMax)) fail_input(json_path(f.path("input"), i), ": ", v, " is outside the float32 range");
      r.input.push_back(static_cast<float>(v));
    }
    return r;
  }

  f.reject_unknown_keys(kTokenKeys);
  r.prompt_ids = parse_token_list(f, "prompt_ids", spec);
  if (r.prompt_ids.empty()) fail_input(f.path("prompt_ids"), ": is empty (no BOS is added; give at least one token)");
  if (static_cast<int64_t>(r.prompt_ids.size()) > spec.max_positions)
    fail_input(f.path("prompt_ids"), ": prompt of ", r.prompt_ids.size(), " tokens is longer than the context (",
               spec.max_positions, ")");
  if (f.has("max_new_tokens")) {
    r.max_new_tokens = f.require_int("max_new_tokens");
    if (*r.max_new_tokens < 0) fail_input(f.path("max_new_tokens"), ": must be >= 0");
  }
  if (f.has("stop_ids")) r.stop_ids = parse_token_list(f, "stop_ids", spec);
  if (f.has("temperature")) {
    const double t = f.require_number("temperature");
    if (!(t >= 0.0 && t <= kFloatMax)) fail_input(f.path("temperature"), ": must be a number >= 0 (and within float32)");
    r.temperature = static_cast<float>(t);
  }
  if (f.has("top_k")) {
    const int64_t k = f.require_int("top_k");
    if (k < 0) fail_input(f.path("top_k"), ": must be >= 0 (0 = off)");
    r.top_k = static_cast<int32_t>(std::min<int64_t>(k, spec.vocab_size));
  }
  if (f.has("top_p")) {
    const double p = f.require_number("top_p");
    if (!(p > 0.0 && p <= 1.0)) fail_input(f.path("top_p"), ": must be in (0, 1]");
    r.top_p = static_cast<float>(p);
  }
  if (f.has("seed")) {
    r.seed = f.require_uint64("seed");
  }
  return r;
}

std::vector<Request> requests_read(const std::string& path, const ModelSpec& spec) {
  std::vector<Request> out;
  std::unordered_set<std::string> ids;
  file_read_lines(path, kRequestLineCap, [&](std::string_view line, int64_t n) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    RequestOrigin src{path, n};
    Request r = request_parse(line, spec, src);
    if (!ids.insert(r.id).second) fail_input(src.where(), ": id: '", r.id, "' appears twice");
    out.push_back(std::move(r));
  });
  if (out.empty()) fail_input(path, ": no requests (expected JSON Lines, one request per line)");
  return out;
}

Json result_fields(const GenerationResult& r) { return {{"output_ids", r.output_ids}, {"finish_reason", r.finish_reason}}; }

Json result_fields(const ScoreResult& r) {
  Json lp = Json::array();
  for (const auto& [tok, v] : r.top_logprobs) lp.push_back(Json::array({tok, v}));
  return {{"next_token", r.next_token}, {"top_logprobs", lp}};
}

Json result_fields(const MlpResult& r) { return {{"output", r.output}}; }

namespace {

template <class R>
std::string line_with_id(const R& r) {
  Json j = result_fields(r);
  j["id"] = r.id;
  return j.dump();
}

}  // namespace

std::string result_line(const GenerationResult& r) { return line_with_id(r); }
std::string result_line(const ScoreResult& r) { return line_with_id(r); }
std::string result_line(const MlpResult& r) { return line_with_id(r); }

}  // namespace ps
