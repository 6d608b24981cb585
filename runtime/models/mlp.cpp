// The `mlp` family: a plain sequential model from JSON (linear, activation, norm layers). Rows
// are samples; there is no KV cache and no head, the last layer's output is the result.
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "runtime/models/family_stages.h"

namespace ps {

namespace {

// One layer's weights: a linear layer's weight and optional bias, a norm's scale and bias (none
// for an activation).
struct MlpLayerWeights {
  Weight weight, bias;
};

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
      : StageModel(spec, std::move(weights), first, last, options) {
    for (int i = first; i <= last; ++i) layers_.push_back(bind_layer(i));
  }

  void forward(const OpContext& ctx, const TokenBatch& batch, const TensorView& in, OwnedTensor& out) override {
    const int64_t rows = in.shape[0];
    // Ping-pong between two scratch tensors (never swapped, so each keeps its reserved size).
    int cur = 0;
    TensorView x = scratch(buf_[0], rows, in.shape[1]);
    ops::copy(ctx, in, x);
    for (int i = first_; i <= last_; ++i) {
      const LayerSpec& l = spec_->layers[static_cast<size_t>(i)];
      const MlpLayerWeights& lw = layers_[static_cast<size_t>(i - first_)];
      switch (l.kind) {
        case LayerKind::MlpLinear: {
          const TensorView y = scratch(buf_[1 - cur], rows, l.out_features);
          ops::linear(ctx, x, lw.weight.view, ops::WeightLayout::OutIn, lw.bias.view, y);
          x = y;
          cur = 1 - cur;
          break;
        }
        case LayerKind::MlpActivation:
          apply_activation(ctx, l.activation, x);
          break;
        case LayerKind::MlpLayerNorm:
          ops::layer_norm(ctx, x, lw.weight.view, lw.bias.view, static_cast<float>(l.eps), x);
          break;
        case LayerKind::MlpRmsNorm:
          ops::rms_norm(ctx, x, lw.weight.view, static_cast<float>(l.eps), x);
          break;
        default:
          fail_runtime("layer ", i, " (", l.name, ") is not an mlp layer");
      }
    }
    out.reshape(x.shape);
    ops::copy(ctx, x, out.view);
  }

 private:
  MlpLayerWeights bind_layer(int i) const {
    const LayerSpec& l = spec_->layers[static_cast<size_t>(i)];
    const std::string p = "layers." + std::to_string(i) + ".";
    MlpLayerWeights lw;
    switch (l.kind) {
      case LayerKind::MlpLinear:
        lw.weight = bind(p + "weight");
        lw.bias = bind_if(l.bias, p + "bias");
        break;
      case LayerKind::MlpLayerNorm:
        lw.weight = bind(p + "weight");
        lw.bias = bind(p + "bias");
        break;
      case LayerKind::MlpRmsNorm:
        lw.weight = bind(p + "weight");
        break;
      default:
        break;  // activations have no weights; forward() rejects a kind that is not an mlp layer
    }
    return lw;
  }

  std::vector<MlpLayerWeights> layers_;  // entry i - first_ is layer i's
  OwnedTensor buf_[2];
};

}  // namespace

std::unique_ptr<StageModel> mlp_stage_create(const ModelSpec& spec, StageWeights weights, int first, int last,
                                             const StageOptions& options) {
  return std::unique_ptr<StageModel>(new MlpStage(spec, std::move(weights), first, last, options));
}

}  // namespace ps
