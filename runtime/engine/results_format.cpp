#include "runtime/engine/results_format.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ps {

std::string sequence_end_fields(const SequenceEnd& end) {
  return result_fields(GenerationResult{"", end.output_ids, end.finish_reason}).dump();
}

ScoreResult score_logits(const OpContext& ctx, std::span<const float> logits, int top_logprobs) {
  ScoreResult r;
  r.top_logprobs = ops::top_logprobs(ctx, logits, std::max(top_logprobs, 1));
  r.next_token = r.top_logprobs.front().first;
  if (top_logprobs == 0) r.top_logprobs.clear();
  return r;
}

void PublishingSink::on_finish(const SequenceEnd& end) { out_.publish(end.request, sequence_end_fields(end)); }

void ScoreFormatter::publish(const OpContext& ctx, const MicroBatch& mb, const float* out, int64_t width) {
  for (size_t i = 0; i < mb.seqs.size(); ++i) {
    const int64_t row = format_.mlp ? mb.batch.logit_rows[i] : static_cast<int64_t>(i);
    const std::span<const float> p(out + row * width, static_cast<size_t>(width));
    const Json fields = format_.mlp ? result_fields(MlpResult{"", std::vector<float>(p.begin(), p.end())})
                                    : result_fields(score_logits(ctx, p, format_.top_logprobs));
    out_.publish(mb.seqs[i].request, fields.dump());
  }
}

}  // namespace ps
