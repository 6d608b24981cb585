#include "runtime/models/stage_model.h"

#include "runtime/models/family_stages.h"

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

TensorView StageModel::w_opt(const std::string& name) const {
  auto it = weights_.tensors.find(name);
  return it == weights_.tensors.end() ? TensorView{} : it->second;
}

std::unique_ptr<StageModel> stage_model_load(const ModelSpec& spec, const Checkpoint& ckpt, int first, int last,
                                             const StageOptions& options) {
  if (first < 0 || last < first || last >= spec.num_layers())
    fail_input("layers ", first, "-", last, ": outside the model's ", spec.num_layers(), " layers");
  StageWeights weights = weights_load(ckpt, spec, first, last);
  switch (spec.family) {
    case Family::Gpt2: return gpt2_stage_create(spec, std::move(weights), first, last, options);
    case Family::Llama: return llama_stage_create(spec, std::move(weights), first, last, options);
    case Family::Mlp: return mlp_stage_create(spec, std::move(weights), first, last);
  }
  fail_runtime("unknown model family");
}

}  // namespace ps
