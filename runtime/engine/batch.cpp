#include "runtime/engine/batch.h"

namespace ps {

void MicroBatch::clear() {
  batch = TokenBatch{};
  inputs.clear();
  seqs.clear();
  last_round = false;
}

void batch_sample(const OpContext& ctx, const TensorView& logits, std::span<const SeqInfo> seqs,
                  std::vector<int32_t>& tokens) {
  std::vector<ops::SamplingParams> params;
  std::vector<ops::SampleKey> keys;
  params.reserve(seqs.size());
  keys.reserve(seqs.size());
  for (const SeqInfo& q : seqs) {
    params.push_back(q.sampling);
    keys.push_back(q.key);
  }
  tokens.assign(seqs.size(), 0);
  if (!tokens.empty()) ops::sample(ctx, logits, params, keys, tokens);
}

}  // namespace ps
