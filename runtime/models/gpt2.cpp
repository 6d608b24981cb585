// GPT-2 (HF GPT2LMHeadModel): learned positions, pre-LayerNorm blocks, a fused q|k|v Conv1D
// (weights stored [in, out]), tanh-GELU MLP, final LayerNorm, LM head tied to wte.
#include "runtime/models/family_stages.h"

#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "runtime/models/transformer_stage.h"

namespace ps {

namespace {

using ops::WeightLayout;

// One block's weights: the two LayerNorms, the fused q|k|v and output projections, the MLP.
struct Gpt2BlockWeights {
  Weight attn_norm, attn_norm_b, wqkv, bqkv, wo, bo;
  Weight ffn_norm, ffn_norm_b, w_up, b_up, w_down, b_down;
};

// The weights around the blocks, bound on the stage that holds their layer (empty elsewhere).
struct Gpt2OuterWeights {
  Weight tok_embd, pos_embd;                   // embedding: wte, wpe
  Weight output_norm, output_norm_b, output;  // head: ln_f and the LM head (wte)
};

class Gpt2Stage final : public TransformerStage {
 public:
  Gpt2Stage(const ModelSpec& spec, StageWeights weights, int first, int last, const StageOptions& options)
      : TransformerStage(spec, std::move(weights), first, last, options) {
    if (has_embedding()) {
      outer_.tok_embd = bind("transformer.wte.weight");
      outer_.pos_embd = bind("transformer.wpe.weight");
    }
    for (int b : stage_blocks()) blocks_.push_back(bind_block(b));
    if (has_head()) {
      outer_.output_norm = bind("transformer.ln_f.weight");
      outer_.output_norm_b = bind("transformer.ln_f.bias");
      outer_.output = bind("transformer.wte.weight");
    }
  }

 private:
  Gpt2BlockWeights bind_block(int b) const {
    const std::string p = "transformer.h." + std::to_string(b) + ".";
    Gpt2BlockWeights l;
    l.attn_norm = bind(p + "ln_1.weight");
    l.attn_norm_b = bind(p + "ln_1.bias");
    l.wqkv = bind(p + "attn.c_attn.weight");
    l.bqkv = bind(p + "attn.c_attn.bias");
    l.wo = bind(p + "attn.c_proj.weight");
    l.bo = bind(p + "attn.c_proj.bias");
    l.ffn_norm = bind(p + "ln_2.weight");
    l.ffn_norm_b = bind(p + "ln_2.bias");
    l.w_up = bind(p + "mlp.c_fc.weight");
    l.b_up = bind(p + "mlp.c_fc.bias");
    l.w_down = bind(p + "mlp.c_proj.weight");
    l.b_down = bind(p + "mlp.c_proj.bias");
    return l;
  }

  void embed(const OpContext& ctx, const TokenBatch& batch, const TensorView& x) override {
    ops::embedding(ctx, outer_.tok_embd.view, batch.tokens, x, /*accumulate=*/false);
    ops::embedding(ctx, outer_.pos_embd.view, batch.positions, x, /*accumulate=*/true);
  }

  void block(const OpContext& ctx, const TokenBatch& batch, int local, const TensorView& x) override {
    const int64_t rows = batch.rows(), h = spec_->hidden;
    const float eps = static_cast<float>(spec_->norm_eps);
    const Gpt2BlockWeights& l = blocks_[static_cast<size_t>(local)];

    // Attention: ln_1, fused c_attn, split into contiguous q, k, v, attend, c_proj, residual.
    const TensorView a = scratch(normed_, rows, h);
    ops::layer_norm(ctx, x, l.attn_norm.view, l.attn_norm_b.view, eps, a);
    const TensorView qkv = scratch(mlp_a_, rows, 3 * h);
    ops::linear(ctx, a, l.wqkv.view, WeightLayout::InOut, l.bqkv.view, qkv);
    const TensorView q = scratch(q_, rows, h), k = scratch(k_, rows, h), v = scratch(v_, rows, h);
    ops::copy_columns(ctx, qkv, 0, q);
    ops::copy_columns(ctx, qkv, h, k);
    ops::copy_columns(ctx, qkv, 2 * h, v);
    attend(ctx, batch, local, q, k, v);
    const TensorView proj = scratch(proj_, rows, h);
    ops::linear(ctx, attn_.view, l.wo.view, WeightLayout::InOut, l.bo.view, proj);
    ops::add(ctx, x, proj, x);

    // MLP: ln_2, c_fc, gelu_new, c_proj, residual.
    ops::layer_norm(ctx, x, l.ffn_norm.view, l.ffn_norm_b.view, eps, a);
    const TensorView inner = scratch(mlp_a_, rows, spec_->intermediate);
    ops::linear(ctx, a, l.w_up.view, WeightLayout::InOut, l.b_up.view, inner);
    ops::gelu_tanh(ctx, inner);
    ops::linear(ctx, inner, l.w_down.view, WeightLayout::InOut, l.b_down.view, proj);
    ops::add(ctx, x, proj, x);
  }

  void final_norm(const OpContext& ctx, const TensorView& x) override {
    ops::layer_norm(ctx, x, outer_.output_norm.view, outer_.output_norm_b.view, static_cast<float>(spec_->norm_eps),
                    x);
  }

  const Weight& head_weight() const override { return outer_.output; }

  Gpt2OuterWeights outer_;
  std::vector<Gpt2BlockWeights> blocks_;  // indexed by block() `local`
};

}  // namespace

std::unique_ptr<StageModel> gpt2_stage_create(const ModelSpec& spec, StageWeights weights, int first, int last,
                                              const StageOptions& options) {
  return std::unique_ptr<StageModel>(new Gpt2Stage(spec, std::move(weights), first, last, options));
}

}  // namespace ps
