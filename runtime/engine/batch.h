// What one slot group puts into one step: its rows (slot and position of each), the rows that
// produce logits, and per sampled sequence its request index and sampling settings. In a
// pipeline this is a micro-batch (runtime/pipeline/micro_batch.h puts it on the wire); in one
// process, the whole step.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/ops.h"
#include "runtime/models/stage_model.h"

namespace ps {

struct SeqInfo {
  int32_t request = 0;  // the request's index in its source
  ops::SamplingParams sampling;
  ops::SampleKey key;
};

struct MicroBatch {
  TokenBatch batch;           // tokens only on the first stage (mlp: slots/positions are 0)
  std::vector<float> inputs;  // mlp, first stage only: [rows, input_size]
  std::vector<SeqInfo> seqs;  // one per logit row, in logit-row order
  bool last_round = false;    // the run ends after the round this closes

  int64_t rows() const { return batch.rows(); }
  void clear();
};

// Samples each sequence's next token from its logit row (`logits`: [seqs, vocab]) with its own
// settings and key; `tokens` gets one per sequence, in order.
void batch_sample(const OpContext& ctx, const TensorView& logits, std::span<const SeqInfo> seqs,
                  std::vector<int32_t>& tokens);

}  // namespace ps
