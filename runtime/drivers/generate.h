// Generation in one process with continuous batching: the engine (runtime/engine/engine.h) with
// one slot group of `slots` sequences, which run together as one ragged batch (new sequences'
// prompts and running sequences' last tokens in the same step); a sequence that finishes frees
// its slot and the next waiting request takes it. This driver runs each step's forward and
// sampling.
#pragma once

#include <vector>

#include "runtime/engine/engine.h"
#include "runtime/io/requests.h"
#include "runtime/models/stage_model.h"

namespace ps {

struct GenerateStats {
  double prefill_seconds = 0;  // steps that carried prompt rows
  double decode_seconds = 0;   // steps of one row per sequence
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  int64_t decode_tokens = 0;   // tokens produced by decode-only steps
  int64_t steps = 0;
};

// Every request of `reqs` in input order; results in input order.
std::vector<GenerationResult> generate_run(StageModel& model, const OpContext& ctx, const std::vector<Request>& reqs,
                                           const GenerateDefaults& defaults, int slots, GenerateStats* stats = nullptr);
// The driver loop for any engine of one group (any source, any sink): steps until the engine's
// last round. The model's cache must hold the engine's slots and max_ctx.
void generate_loop(StageModel& model, const OpContext& ctx, Engine& engine, GenerateStats* stats = nullptr);

}  // namespace ps
