#include "runtime/models/stage_model.h"

#include <algorithm>
#include <cstdint>

#include "runtime/models/family_stages.h"
#include "runtime/weights/device_weights.h"

namespace ps {

bool StageModel::has_embedding() const {
  return spec_->layers[static_cast<size_t>(first_)].kind == LayerKind::Embedding;
}

bool StageModel::has_head() const { return spec_->layers[static_cast<size_t>(last_)].kind == LayerKind::Head; }

int64_t StageModel::output_width() const { return activation_width(*spec_, last_); }

int64_t activation_width(const ModelSpec& spec, int layer) {
  if (spec.family != Family::Mlp) {
    const bool head = layer >= 0 && spec.layers[static_cast<size_t>(layer)].kind == LayerKind::Head;
    return head ? spec.vocab_size : spec.hidden;
  }
  // The running width after the last linear layer at or before `layer`.
  for (int i = layer; i >= 0; --i) {
    const LayerSpec& l = spec.layers[static_cast<size_t>(i)];
    if (l.kind == LayerKind::MlpLinear) return l.out_features;
  }
  return spec.input_size;
}

TensorView StageModel::scratch(OwnedTensor& t, int64_t rows, int64_t cols) {
  auto it = std::find_if(scratch_widths_.begin(), scratch_widths_.end(), [&](const auto& e) { return e.first == &t; });
  if (it == scratch_widths_.end()) {
    t = OwnedTensor(device_, dtype_);
    scratch_widths_.emplace_back(&t, cols);
  } else {
    it->second = std::max(it->second, cols);
  }
  t.reshape(Shape{rows, cols});
  return t.view;
}

void StageModel::reserve(const OpContext& ctx, int64_t max_rows, int64_t max_ctx) {
  PS_CHECK(max_rows >= 1 && max_ctx >= 1 && max_ctx <= INT32_MAX, "reserve ", max_rows, " rows, ", max_ctx, " positions");
  TokenBatch one;
  one.tokens = {0};
  one.slots = {0};
  one.positions = {static_cast<int32_t>(max_ctx - 1)};
  one.logit_rows = {0};
  OwnedTensor in(device_, dtype_), out(device_, dtype_);
  in.reshape(Shape{1, activation_width(*spec_, first_ - 1)});
  in.reserve(in.view.numel());  // zeros
  forward(ctx, one, in.view, out);
  // reserve() zero-fills outside the stream: let the warm-up's kernels finish with the scratch first.
  ctx.backend->memory.synchronize(ctx.stream);
  for (auto& [t, cols] : scratch_widths_) t->reserve(max_rows * cols);
}

uint64_t StageModel::scratch_bytes() const {
  uint64_t b = 0;
  for (const auto& e : scratch_widths_) b += e.first->capacity_bytes();
  return b;
}

std::unique_ptr<StageModel> stage_model_load(const ModelSpec& spec, const Checkpoint& ckpt, int first, int last,
                                             const StageOptions& options) {
  if (first < 0 || last < first || last >= spec.num_layers())
    fail_input("layers ", first, "-", last, ": outside the model's ", spec.num_layers(), " layers");
  PS_CHECK(!options.device.is_cpu() || options.dtype == DType::F32, "the CPU computes in f32, not ",
           dtype_name(options.dtype));
  StageWeights weights = options.device.is_cpu()
                             ? weights_load(ckpt, spec, first, last)
                             : weights_upload(ckpt, spec, first, last, options.device, options.dtype, options.stream);
  switch (spec.family) {
    case Family::Gpt2: return gpt2_stage_create(spec, std::move(weights), first, last, options);
    case Family::Llama: return llama_stage_create(spec, std::move(weights), first, last, options);
    case Family::Mlp: return mlp_stage_create(spec, std::move(weights), first, last, options);
  }
  fail_runtime("unknown model family");
}

}  // namespace ps
