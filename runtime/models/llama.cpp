// Llama (HF LlamaForCausalLM; Mistral and Qwen2 by config): RMSNorm, rotate-half RoPE with
// rope_theta and rope_scaling, grouped-query attention, optional q/k/v bias, SwiGLU MLP
// down(silu(gate(x)) * up(x)), final RMSNorm, LM head or tied embeddings. nn.Linear weights
// are stored [out, in].
#include "kernels/ops.h"
#include "runtime/models/family_stages.h"
#include "runtime/models/transformer_stage.h"

namespace ps {

namespace {

using ops::WeightLayout;

std::string layer_name(int b, const char* leaf) { return "model.layers." + std::to_string(b) + "." + leaf; }

class LlamaStage final : public TransformerStage {
 public:
  LlamaStage(const ModelSpec& spec, StageWeights weights, int first, int last, const StageOptions& options)
      : TransformerStage(spec, std::move(weights), first, last, options),
        inv_freq_(ops::rope_inv_freq(spec.rope_theta, spec.head_dim, spec.rope_scaling)) {}

 private:
  void embed(const OpContext& ctx, const TokenBatch& batch, const TensorView& x) override {
    ops::embedding(ctx, w("model.embed_tokens.weight"), batch.tokens, x);
  }

  void block(const OpContext& ctx, const TokenBatch& batch, int b, int local, const TensorView& x) override {
    const int64_t rows = batch.rows(), h = spec_->hidden, hd = spec_->head_dim;
    const int64_t q_width = spec_->n_heads * hd, kv_width = spec_->n_kv_heads * hd;
    const float eps = static_cast<float>(spec_->norm_eps);
    auto lw = [&](const char* leaf) -> const TensorView& { return w(layer_name(b, leaf)); };
    auto lw_opt = [&](const char* leaf) { return w_opt(layer_name(b, leaf)); };

    // Attention: norm, q/k/v projections, RoPE on q and k, attend, o_proj, residual.
    const TensorView a = scratch(normed_, rows, h);
    ops::rms_norm(ctx, x, lw("input_layernorm.weight"), eps, a);
    const TensorView q = scratch(q_, rows, q_width), k = scratch(k_, rows, kv_width), v = scratch(v_, rows, kv_width);
    ops::linear(ctx, a, lw("self_attn.q_proj.weight"), WeightLayout::OutIn, lw_opt("self_attn.q_proj.bias"), q);
    ops::linear(ctx, a, lw("self_attn.k_proj.weight"), WeightLayout::OutIn, lw_opt("self_attn.k_proj.bias"), k);
    ops::linear(ctx, a, lw("self_attn.v_proj.weight"), WeightLayout::OutIn, lw_opt("self_attn.v_proj.bias"), v);
    ops::rope(ctx, q.reshape(Shape{rows, spec_->n_heads, hd}), batch.positions, inv_freq_);
    ops::rope(ctx, k.reshape(Shape{rows, spec_->n_kv_heads, hd}), batch.positions, inv_freq_);
    attend(ctx, batch, local, q, k, v);
    const TensorView proj = scratch(proj_, rows, h);
    ops::linear(ctx, attn_.view, lw("self_attn.o_proj.weight"), WeightLayout::OutIn, lw_opt("self_attn.o_proj.bias"),
                proj);
    ops::add(ctx, x, proj, x);

    // MLP: norm, gate and up, silu(gate) * up, down, residual.
    ops::rms_norm(ctx, x, lw("post_attention_layernorm.weight"), eps, a);
    const TensorView gate = scratch(mlp_a_, rows, spec_->intermediate);
    const TensorView up = scratch(mlp_b_, rows, spec_->intermediate);
    ops::linear(ctx, a, lw("mlp.gate_proj.weight"), WeightLayout::OutIn, lw_opt("mlp.gate_proj.bias"), gate);
    ops::linear(ctx, a, lw("mlp.up_proj.weight"), WeightLayout::OutIn, lw_opt("mlp.up_proj.bias"), up);
    ops::silu_mul(ctx, gate, up, gate);
    ops::linear(ctx, gate, lw("mlp.down_proj.weight"), WeightLayout::OutIn, lw_opt("mlp.down_proj.bias"), proj);
    ops::add(ctx, x, proj, x);
  }

  void final_norm(const OpContext& ctx, const TensorView& x) override {
    ops::rms_norm(ctx, x, w("model.norm.weight"), static_cast<float>(spec_->norm_eps), x);
  }

  std::string head_weight_name() const override {
    return spec_->tie_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  }

  std::vector<float> inv_freq_;
};

}  // namespace

std::unique_ptr<StageModel> llama_stage_create(const ModelSpec& spec, StageWeights weights, int first, int last,
                                               const StageOptions& options) {
  return std::unique_ptr<StageModel>(new LlamaStage(spec, std::move(weights), first, last, options));
}

}  // namespace ps
