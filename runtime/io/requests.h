// Request and result lines (docs/DESIGN.md "Requests in, results out"). Every command that runs a
// model reads and writes these JSON Lines; results keep the input order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/json_util.h"
#include "runtime/spec/model_spec.h"

namespace ps {

struct Request {
  std::string id;
  std::vector<int32_t> prompt_ids;  // transformer families
  std::vector<float> input;         // mlp
  std::optional<int64_t> max_new_tokens;
  std::vector<int32_t> stop_ids;
  std::optional<float> temperature;
  std::optional<int32_t> top_k;
  std::optional<float> top_p;
  std::optional<uint64_t> seed;
};

// Where a request came from, for messages: "requests.jsonl: line 3".
struct RequestOrigin {
  std::string file;
  int64_t line = 0;
  std::string where() const;
};

// Parses one request line and validates it against the model (ids inside the vocabulary, the
// prompt within the context, mlp input of the model's width). InvalidInput names the source and
// the field ("requests.jsonl: line 3: prompt_ids[4]: token 70000 is outside the vocabulary (50257)").
Request request_parse(std::string_view line, const ModelSpec& spec, const RequestOrigin& src);
// Reads a whole JSONL file (blank lines skipped); request ids must be unique.
std::vector<Request> requests_read(const std::string& path, const ModelSpec& spec);

struct GenerationResult {
  std::string id;
  std::vector<int32_t> output_ids;  // new tokens only; a stop id that ended the sequence is included
  std::string finish_reason;        // "length" | "stop"
};

struct ScoreResult {
  std::string id;
  int32_t next_token = 0;
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

struct MlpResult {
  std::string id;
  std::vector<float> output;
};

// A result's JSON fields without its "id": what a rank publishes and the journal keeps (the
// engine's results_format.h). result_line adds the id: one layout per kind of result.
Json result_fields(const GenerationResult& r);
Json result_fields(const ScoreResult& r);
Json result_fields(const MlpResult& r);
std::string result_line(const GenerationResult& r);
std::string result_line(const ScoreResult& r);
std::string result_line(const MlpResult& r);

}  // namespace ps
