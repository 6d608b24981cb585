// A sequence being generated and the pure rules that start it, feed it to a step and end it.
// Plain data: the engine (engine.h) keeps its sequences in slot groups; nothing here knows about
// groups, sources or sinks.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "partitioner/workload.h"
#include "runtime/io/requests.h"
#include "runtime/models/stage_model.h"

namespace ps {

// Defaults for requests that do not set their own (the command line's flags).
struct GenerateDefaults {
  int64_t max_new_tokens = 16;
  std::vector<int32_t> stop_ids;
  std::optional<float> temperature;
  std::optional<int32_t> top_k;
  std::optional<float> top_p;
  uint64_t seed = 0;
};

// A stop rule beyond stop ids, asked each time a token is accepted with the generated tokens so
// far (that token last): true ends the sequence with "stop". The hook for rules that need the
// decoded text (stop strings: the closure holds the tokenizer and its decoding state).
using StopRule = std::function<bool(std::span<const int32_t> generated)>;

// The finish reasons a generation result reports.
inline constexpr const char* kFinishLength = "length";        // max_new_tokens, or the context is full
inline constexpr const char* kFinishStop = "stop";            // a stop id or a stop rule
inline constexpr const char* kFinishCancelled = "cancelled";  // the source cancelled it (queue sources only)

struct Sequence {
  int32_t request = 0;           // the request's index in its source (results name it)
  int slot = -1;
  std::vector<int32_t> tokens;   // prompt followed by generated tokens
  size_t prompt_len = 0;
  size_t cached = 0;             // tokens whose keys and values are in the KV cache (or on their way)
  bool awaits_token = false;     // its last step had a logit row: a sampled token is on its way
  int64_t max_new_tokens = 0;
  std::vector<int32_t> stop_ids;
  StopRule stop_rule;            // optional
  ops::SamplingParams sampling;
  uint64_t id_hash = 0;

  int64_t generated() const { return static_cast<int64_t>(tokens.size() - prompt_len); }
  std::span<const int32_t> output() const {
    return std::span<const int32_t>(tokens).subspan(prompt_len);
  }
};

// The request's own settings over the defaults.
Sequence sequence_start(const Request& r, int32_t index, const GenerateDefaults& d);
// True when a new sequence has nothing to generate: no new tokens asked, or its prompt fills the context.
bool sequence_done_at_start(const Sequence& s, int64_t max_ctx);
// Appends the sequence's rows for its next step to `batch`: the tokens not yet in the cache
// (a new sequence's prompt, at most `prefill_chunk` of them per step when > 0; then its last
// token). The step ends with a logit row when it reaches the last token; then the sampled token
// is awaited. Advances s.cached: those rows are in the cache once the step has run.
// Returns the number of prompt rows appended.
int64_t sequence_append_rows(Sequence& s, int64_t prefill_chunk, TokenBatch& batch);
// Applies a sampled token; returns the finish reason (kFinishStop / kFinishLength) when the
// sequence ends: a stop id, the stop rule, its max_new_tokens, or a full context.
std::optional<std::string> sequence_accept(Sequence& s, int32_t token, int64_t max_ctx);

// KV-cache positions per slot a set of requests needs: generation, prompt + new tokens (capped
// by the model); scoring, the longest prompt; mlp, 1.
int64_t generate_context_needed(const std::vector<Request>& reqs, const GenerateDefaults& d, int64_t max_positions);
int64_t forward_context_needed(const std::vector<Request>& reqs);
int64_t context_needed(Mode mode, const std::vector<Request>& reqs, const GenerateDefaults& d, const ModelSpec& spec);

}  // namespace ps
