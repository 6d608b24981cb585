#include "runtime/drivers/forward.h"

#include <algorithm>
#include <cstring>

#include "kernels/ops.h"
#include "runtime/engine/results_format.h"

namespace ps {

std::vector<ScoreResult> forward_run(StageModel& model, const OpContext& ctx, const std::vector<Request>& reqs,
                                     const ForwardOptions& options) {
  const int64_t vocab = model.spec().vocab_size;
  std::vector<ScoreResult> results;
  OwnedTensor logits(model.device(), model.dtype()), host;
  for (size_t begin = 0; begin < reqs.size(); begin += static_cast<size_t>(options.batch)) {
    const size_t end = std::min(reqs.size(), begin + static_cast<size_t>(options.batch));
    TokenBatch batch;
    std::vector<int32_t> last_row_of;  // index into logits of each request's last position
    for (size_t i = begin; i < end; ++i) {
      const auto& ids = reqs[i].prompt_ids;
      for (size_t p = 0; p < ids.size(); ++p) {
        batch.tokens.push_back(ids[p]);
        batch.slots.push_back(static_cast<int32_t>(i - begin));
        batch.positions.push_back(static_cast<int32_t>(p));
        if (options.all_logits) batch.logit_rows.push_back(static_cast<int32_t>(batch.tokens.size() - 1));
      }
      if (!options.all_logits) batch.logit_rows.push_back(static_cast<int32_t>(batch.tokens.size() - 1));
      last_row_of.push_back(static_cast<int32_t>(batch.logit_rows.size() - 1));
    }
    model.forward(ctx, batch, TensorView{}, logits);
    const float* p = host_f32(ctx, logits.view, host);
    if (options.all_logits) options.all_logits->insert(options.all_logits->end(), p, p + logits.view.numel());
    for (size_t i = begin; i < end; ++i) {
      const float* row = p + static_cast<int64_t>(last_row_of[i - begin]) * vocab;
      ScoreResult r = score_logits(ctx, std::span<const float>(row, static_cast<size_t>(vocab)), options.top_logprobs);
      r.id = reqs[i].id;
      results.push_back(std::move(r));
    }
  }
  return results;
}

std::vector<MlpResult> mlp_run(StageModel& model, const OpContext& ctx, const std::vector<Request>& reqs, int batch) {
  const int64_t width = model.spec().input_size;
  std::vector<MlpResult> results;
  OwnedTensor in, out(model.device(), model.dtype()), host;
  for (size_t begin = 0; begin < reqs.size(); begin += static_cast<size_t>(batch)) {
    const size_t end = std::min(reqs.size(), begin + static_cast<size_t>(batch));
    const auto rows = static_cast<int64_t>(end - begin);
    in.reshape(Shape{rows, width});
    for (size_t i = begin; i < end; ++i)
      std::memcpy(in.f32() + static_cast<int64_t>(i - begin) * width, reqs[i].input.data(),
                  static_cast<size_t>(width) * sizeof(float));
    TokenBatch tb;
    for (int64_t r = 0; r < rows; ++r) tb.logit_rows.push_back(static_cast<int32_t>(r));
    model.forward(ctx, tb, in.view, out);
    const int64_t ow = out.view.shape[1];
    const float* o = host_f32(ctx, out.view, host);
    for (size_t i = begin; i < end; ++i) {
      const float* p = o + static_cast<int64_t>(i - begin) * ow;
      results.push_back({reqs[i].id, std::vector<float>(p, p + ow)});
    }
  }
  return results;
}

}  // namespace ps
