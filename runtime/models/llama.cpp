// Llama (HF LlamaForCausalLM; Mistral and Qwen2 by config): RMSNorm, rotate-half RoPE with
// rope_theta and rope_scaling, grouped-query attention, optional q/k/v bias, SwiGLU MLP
// down(silu(gate(x)) * up(x)), final RMSNorm, LM head or tied embeddings. nn.Linear weights
// are stored [out, in].
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "runtime/models/family_stages.h"
#include "runtime/models/transformer_stage.h"

namespace ps {

namespace {

using ops::WeightLayout;

// One decoder layer's weights (biases empty unless the config has them).
struct LlamaBlockWeights {
  Weight attn_norm, wq, wk, wv, wo, bq, bk, bv, bo;
  Weight ffn_norm, w_gate, w_up, w_down, b_gate, b_up, b_down;
};

// The weights around the blocks, bound on the stage that holds their layer (empty elsewhere).
struct LlamaOuterWeights {
  Weight tok_embd;             // embedding
  Weight output_norm, output;  // head: final norm, LM head (the embedding when tied)
};

class LlamaStage final : public TransformerStage {
 public:
  LlamaStage(const ModelSpec& spec, StageWeights weights, int first, int last, const StageOptions& options)
      : TransformerStage(spec, std::move(weights), first, last, options),
        inv_freq_(ops::rope_inv_freq(spec.rope_theta, spec.head_dim, spec.rope_scaling)) {
    if (has_embedding()) outer_.tok_embd = bind("model.embed_tokens.weight");
    for (int b : stage_blocks()) blocks_.push_back(bind_block(b));
    if (has_head()) {
      outer_.output_norm = bind("model.norm.weight");
      outer_.output = bind(spec.tie_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
    }
  }

 private:
  LlamaBlockWeights bind_block(int b) const {
    const std::string p = "model.layers." + std::to_string(b) + ".";
    const bool qkv = spec_->qkv_bias, o = spec_->o_bias, mlp = spec_->mlp_bias;
    LlamaBlockWeights l;
    l.attn_norm = bind(p + "input_layernorm.weight");
    l.wq = bind(p + "self_attn.q_proj.weight");
    l.wk = bind(p + "self_attn.k_proj.weight");
    l.wv = bind(p + "self_attn.v_proj.weight");
    l.wo = bind(p + "self_attn.o_proj.weight");
    l.bq = bind_if(qkv, p + "self_attn.q_proj.bias");
    l.bk = bind_if(qkv, p + "self_attn.k_proj.bias");
    l.bv = bind_if(qkv, p + "self_attn.v_proj.bias");
    l.bo = bind_if(o, p + "self_attn.o_proj.bias");
    l.ffn_norm = bind(p + "post_attention_layernorm.weight");
    l.w_gate = bind(p + "mlp.gate_proj.weight");
    l.w_up = bind(p + "mlp.up_proj.weight");
    l.w_down = bind(p + "mlp.down_proj.weight");
    l.b_gate = bind_if(mlp, p + "mlp.gate_proj.bias");
    l.b_up = bind_if(mlp, p + "mlp.up_proj.bias");
    l.b_down = bind_if(mlp, p + "mlp.down_proj.bias");
    return l;
  }

  void embed(const OpContext& ctx, const TokenBatch& batch, const TensorView& x) override {
    ops::embedding(ctx, outer_.tok_embd.view, batch.tokens, x, /*accumulate=*/false);
  }

  void block(const OpContext& ctx, const TokenBatch& batch, int local, const TensorView& x) override {
    const int64_t rows = batch.rows(), h = spec_->hidden, hd = spec_->head_dim;
    const int64_t q_width = spec_->n_heads * hd, kv_width = spec_->n_kv_heads * hd;
    const float eps = static_cast<float>(spec_->norm_eps);
    const LlamaBlockWeights& l = blocks_[static_cast<size_t>(local)];

    // Attention: norm, q/k/v projections, RoPE on q and k, attend, o_proj, residual.
    const TensorView a = scratch(normed_, rows, h);
    ops::rms_norm(ctx, x, l.attn_norm.view, eps, a);
    const TensorView q = scratch(q_, rows, q_width), k = scratch(k_, rows, kv_width), v = scratch(v_, rows, kv_width);
    ops::linear(ctx, a, l.wq.view, WeightLayout::OutIn, l.bq.view, q);
    ops::linear(ctx, a, l.wk.view, WeightLayout::OutIn, l.bk.view, k);
    ops::linear(ctx, a, l.wv.view, WeightLayout::OutIn, l.bv.view, v);
    ops::rope(ctx, q.reshape(Shape{rows, spec_->n_heads, hd}), batch.positions, inv_freq_);
    ops::rope(ctx, k.reshape(Shape{rows, spec_->n_kv_heads, hd}), batch.positions, inv_freq_);
    attend(ctx, batch, local, q, k, v);
    const TensorView proj = scratch(proj_, rows, h);
    ops::linear(ctx, attn_.view, l.wo.view, WeightLayout::OutIn, l.bo.view, proj);
    ops::add(ctx, x, proj, x);

    // MLP: norm, gate and up, silu(gate) * up, down, residual.
    ops::rms_norm(ctx, x, l.ffn_norm.view, eps, a);
    const TensorView gate = scratch(mlp_a_, rows, spec_->intermediate);
    const TensorView up = scratch(mlp_b_, rows, spec_->intermediate);
    ops::linear(ctx, a, l.w_gate.view, WeightLayout::OutIn, l.b_gate.view, gate);
    ops::linear(ctx, a, l.w_up.view, WeightLayout::OutIn, l.b_up.view, up);
    ops::silu_mul(ctx, gate, up, gate);
    ops::linear(ctx, gate, l.w_down.view, WeightLayout::OutIn, l.b_down.view, proj);
    ops::add(ctx, x, proj, x);
  }

  void final_norm(const OpContext& ctx, const TensorView& x) override {
    ops::rms_norm(ctx, x, outer_.output_norm.view, static_cast<float>(spec_->norm_eps), x);
  }

  const Weight& head_weight() const override { return outer_.output; }

  std::vector<float> inv_freq_;
  LlamaOuterWeights outer_;
  std::vector<LlamaBlockWeights> blocks_;  // indexed by block() `local`
};

}  // namespace

std::unique_ptr<StageModel> llama_stage_create(const ModelSpec& spec, StageWeights weights, int first, int last,
                                               const StageOptions& options) {
  return std::unique_ptr<StageModel>(new LlamaStage(spec, std::move(weights), first, last, options));
}

}  // namespace ps
