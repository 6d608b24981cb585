// Generation in one process with continuous batching: up to `slots` sequences run together as
// one ragged batch (new sequences' prompts and running sequences' last tokens in the same
// step); a sequence that finishes frees its slot and the next waiting request takes it.
#pragma once

#include <optional>
#include <vector>

#include "kernels/ops.h"
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

struct GenerateStats {
  double prefill_seconds = 0;  // steps that carried prompt rows
  double decode_seconds = 0;   // steps of one row per sequence
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  int64_t decode_tokens = 0;   // tokens produced by decode-only steps
  int64_t steps = 0;
};

// Everything a running sequence needs; plain data, shared with the pipeline's first stage.
struct Sequence {
  size_t request = 0;             // index into the request list
  int slot = -1;
  std::vector<int32_t> tokens;    // prompt followed by generated tokens
  size_t prompt_len = 0;
  int64_t max_new_tokens = 0;
  std::vector<int32_t> stop_ids;
  ops::SamplingParams sampling;
  uint64_t id_hash = 0;
  bool prefilled = false;

  int64_t generated() const { return static_cast<int64_t>(tokens.size() - prompt_len); }
};

// The request's own settings over the defaults.
Sequence sequence_start(const Request& r, size_t index, const GenerateDefaults& d);
// The KV-cache positions a set of requests needs per slot (prompt + new tokens, capped by the model).
int64_t generate_context_needed(const std::vector<Request>& reqs, const GenerateDefaults& d, int64_t max_positions);
// Appends one step's rows for these sequences: a new sequence's whole prompt, else its last token.
void sequence_append_rows(const Sequence& s, TokenBatch& batch);
// Applies a sampled token; returns the finish reason ("stop" / "length") when the sequence ends.
std::optional<std::string> sequence_accept(Sequence& s, int32_t token, int64_t max_ctx);

std::vector<GenerationResult> generate_run(StageModel& model, const OpContext& ctx, const std::vector<Request>& reqs,
                                           const GenerateDefaults& defaults, int slots, GenerateStats* stats = nullptr);

}  // namespace ps
