// Scoring without generation: one forward pass per batch of requests. Transformer families get
// the greedy next token and the top-K log-probabilities at the last position; `mlp` maps input
// to output.
#pragma once

#include <vector>

#include "runtime/engine/sequence.h"  // forward_context_needed: the cache a scoring run needs
#include "runtime/io/requests.h"
#include "runtime/models/stage_model.h"

namespace ps {

struct ForwardOptions {
  int batch = 8;             // requests per forward pass (KV-cache slots)
  int top_logprobs = 5;
  // When set, receives the logits of every position of every request in input order
  // ([prompt_len, vocab] each), for comparison against a reference.
  std::vector<float>* all_logits = nullptr;
};

std::vector<ScoreResult> forward_run(StageModel& model, const OpContext& ctx, const std::vector<Request>& reqs,
                                     const ForwardOptions& options);
std::vector<MlpResult> mlp_run(StageModel& model, const OpContext& ctx, const std::vector<Request>& reqs, int batch);

}  // namespace ps
