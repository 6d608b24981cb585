// The `mlp` family: a plain sequential model from JSON (linear, activation, norm layers). Rows
// are samples; there is no KV cache and no head, the last layer's output is the result.
#include <utility>

#include "kernels/ops.h"
#include "runtime/models/family_stages.h"

namespace ps {

namespace {

std::string layer_tensor(int i, const char* leaf) { return "layers." + std::to_string(i) + "." + leaf; }

void apply_activation(const OpContext& ctx, Activation a, const TensorView& x) {
  switch (a) {
    case Activation::Relu: return ops::relu(ctx, x);
    case Activation::Gelu: return ops::gelu_erf(ctx, x);
    case Activation::GeluTanh: return ops::gelu_tanh(ctx, x);
    case Activation::Silu: return ops::silu(ctx, x);
    case Activation::Tanh: return ops::tanh_act(ctx, x);
  }
}

class MlpStage final : public StageModel {
 public:
  MlpStage(const ModelSpec& spec, StageWeights weights, int first, int last, const StageOptions& options)
      : StageModel(spec, std::move(weights), first, last, options) {}

  void forward(const OpContext& ctx, const TokenBatch& batch, const TensorView& in, OwnedTensor& out) override {
    const int64_t rows = in.shape[0];
    // Ping-pong between two scratch tensors (never swapped, so each keeps its reserved size).
    int cur = 0;
    TensorView x = scratch(buf_[0], rows, in.shape[1]);
    ops::copy(ctx, in, x);
    for (int i = first_; i <= last_; ++i) {
      const LayerSpec& l = spec_->layers[static_cast<size_t>(i)];
      switch (l.kind) {
        case LayerKind::MlpLinear: {
          const TensorView y = scratch(buf_[1 - cur], rows, l.out_features);
          ops::linear(ctx, x, w(layer_tensor(i, "weight")), ops::WeightLayout::OutIn,
                      l.bias ? w(layer_tensor(i, "bias")) : TensorView{}, y);
          x = y;
          cur = 1 - cur;
          break;
        }
        case LayerKind::MlpActivation:
          apply_activation(ctx, l.activation, x);
          break;
        case LayerKind::MlpLayerNorm:
          ops::layer_norm(ctx, x, w(layer_tensor(i, "weight")), w(layer_tensor(i, "bias")),
                          static_cast<float>(l.eps), x);
          break;
        case LayerKind::MlpRmsNorm:
          ops::rms_norm(ctx, x, w(layer_tensor(i, "weight")), static_cast<float>(l.eps), x);
          break;
        default:
          fail_runtime("layer ", i, " (", l.name, ") is not an mlp layer");
      }
    }
    out.reshape(x.shape);
    ops::copy(ctx, x, out.view);
  }

 private:
  OwnedTensor buf_[2];
};

}  // namespace

std::unique_ptr<StageModel> mlp_stage_create(const ModelSpec& spec, StageWeights weights, int first, int last,
                                             const StageOptions& options) {
  return std::unique_ptr<StageModel>(new MlpStage(spec, std::move(weights), first, last, options));
}

}  // namespace ps
