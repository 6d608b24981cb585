// GPT-2 (HF GPT2LMHeadModel): learned positions, pre-LayerNorm blocks, a fused q|k|v Conv1D
// (weights stored [in, out]), tanh-GELU MLP, final LayerNorm, LM head tied to wte.
#include "runtime/models/family_stages.h"

#include "kernels/ops.h"
#include "runtime/models/transformer_stage.h"

namespace ps {

namespace {

using ops::WeightLayout;

std::string block_name(int b, const char* leaf) { return "transformer.h." + std::to_string(b) + "." + leaf; }

class Gpt2Stage final : public TransformerStage {
 public:
  Gpt2Stage(const ModelSpec& spec, StageWeights weights, int first, int last, const StageOptions& options)
      : TransformerStage(spec, std::move(weights), first, last, options) {}

 private:
  void embed(const OpContext& ctx, const TokenBatch& batch, const TensorView& x) override {
    ops::embedding(ctx, w("transformer.wte.weight"), batch.tokens, x);
    ops::embedding(ctx, w("transformer.wpe.weight"), batch.positions, x, /*accumulate=*/true);
  }

  void block(const OpContext& ctx, const TokenBatch& batch, int b, int local, const TensorView& x) override {
    const int64_t rows = batch.rows(), h = spec_->hidden;
    const float eps = static_cast<float>(spec_->norm_eps);
    auto bw = [&](const char* leaf) -> const TensorView& { return w(block_name(b, leaf)); };

    // Attention: ln_1, fused c_attn, split into contiguous q, k, v, attend, c_proj, residual.
    const TensorView a = scratch(normed_, rows, h);
    ops::layer_norm(ctx, x, bw("ln_1.weight"), bw("ln_1.bias"), eps, a);
    const TensorView qkv = scratch(mlp_a_, rows, 3 * h);
    ops::linear(ctx, a, bw("attn.c_attn.weight"), WeightLayout::InOut, bw("attn.c_attn.bias"), qkv);
    const TensorView q = scratch(q_, rows, h), k = scratch(k_, rows, h), v = scratch(v_, rows, h);
    ops::copy_columns(ctx, qkv, 0, q);
    ops::copy_columns(ctx, qkv, h, k);
    ops::copy_columns(ctx, qkv, 2 * h, v);
    attend(ctx, batch, local, q, k, v);
    const TensorView proj = scratch(proj_, rows, h);
    ops::linear(ctx, attn_.view, bw("attn.c_proj.weight"), WeightLayout::InOut, bw("attn.c_proj.bias"), proj);
    ops::add(ctx, x, proj, x);

    // MLP: ln_2, c_fc, gelu_new, c_proj, residual.
    ops::layer_norm(ctx, x, bw("ln_2.weight"), bw("ln_2.bias"), eps, a);
    const TensorView inner = scratch(mlp_a_, rows, spec_->intermediate);
    ops::linear(ctx, a, bw("mlp.c_fc.weight"), WeightLayout::InOut, bw("mlp.c_fc.bias"), inner);
    ops::gelu_tanh(ctx, inner);
    ops::linear(ctx, inner, bw("mlp.c_proj.weight"), WeightLayout::InOut, bw("mlp.c_proj.bias"), proj);
    ops::add(ctx, x, proj, x);
  }

  void final_norm(const OpContext& ctx, const TensorView& x) override {
    ops::layer_norm(ctx, x, w("transformer.ln_f.weight"), w("transformer.ln_f.bias"),
                    static_cast<float>(spec_->norm_eps), x);
  }

  std::string head_weight_name() const override { return "transformer.wte.weight"; }
};

}  // namespace

std::unique_ptr<StageModel> gpt2_stage_create(const ModelSpec& spec, StageWeights weights, int first, int last,
                                              const StageOptions& options) {
  return std::unique_ptr<StageModel>(new Gpt2Stage(spec, std::move(weights), first, last, options));
}

}  // namespace ps
