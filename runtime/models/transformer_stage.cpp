#include "runtime/models/transformer_stage.h"

#include <cmath>
#include <utility>

#include "kernels/ops.h"

namespace ps {

namespace {

int count_blocks(const ModelSpec& spec, int first, int last) {
  int n = 0;
  for (int i = first; i <= last; ++i) n += spec.layers[static_cast<size_t>(i)].kind == LayerKind::Block;
  return n;
}

int first_block_of(const ModelSpec& spec, int first, int last) {
  for (int i = first; i <= last; ++i)
    if (spec.layers[static_cast<size_t>(i)].kind == LayerKind::Block) return spec.layers[static_cast<size_t>(i)].block;
  return 0;
}

}  // namespace

TransformerStage::TransformerStage(const ModelSpec& spec, StageWeights weights, int first, int last,
                                   const StageOptions& options)
    : StageModel(spec, std::move(weights), first, last, options),
      cache_(count_blocks(spec, first, last), options.slots,
             options.max_ctx > 0 ? std::min(options.max_ctx, spec.max_positions) : spec.max_positions,
             spec.n_kv_heads, spec.head_dim, options.device, options.dtype),
      first_block_(first_block_of(spec, first, last)) {}

std::vector<int> TransformerStage::stage_blocks() const {
  std::vector<int> blocks;
  for (int i = first_; i <= last_; ++i)
    if (spec_->layers[static_cast<size_t>(i)].kind == LayerKind::Block)
      blocks.push_back(spec_->layers[static_cast<size_t>(i)].block);
  return blocks;
}

void TransformerStage::attend(const OpContext& ctx, const TokenBatch& batch, int local, const TensorView& q,
                              const TensorView& k, const TensorView& v) {
  const int64_t rows = batch.rows();
  const auto cache = cache_.layer(local);
  ops::kv_store(ctx, cache, k, v, batch.slots, batch.positions);
  const TensorView out = scratch(attn_, rows, spec_->n_heads * spec_->head_dim);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(spec_->head_dim)));
  ops::attention(ctx, q.reshape(Shape{rows, spec_->n_heads, spec_->head_dim}), cache, batch.slots, batch.positions,
                 scale, out.reshape(Shape{rows, spec_->n_heads, spec_->head_dim}));
}

void TransformerStage::forward(const OpContext& ctx, const TokenBatch& batch, const TensorView& in, OwnedTensor& out) {
  const int64_t rows = batch.rows();
  const int64_t hidden = spec_->hidden;
  for (int32_t p : batch.positions)
    if (p < 0 || p >= cache_.max_ctx())
      fail_runtime("stage layers ", first_, "-", last_, ": position ", p, " is outside the KV cache (", cache_.max_ctx(), ")");
  for (int32_t s : batch.slots)
    if (s < 0 || s >= cache_.slots()) fail_runtime("stage layers ", first_, "-", last_, ": slot ", s, " out of range");

  TensorView x = scratch(x_, rows, hidden);
  if (!has_embedding()) {
    PS_CHECK(in.numel() == rows * hidden, "stage input ", in.shape.str(), " for ", rows, " rows");
    ops::copy(ctx, in, x);  // converts (and uploads) when the input's dtype or memory differs
  }
  for (int i = first_; i <= last_; ++i) {
    const LayerSpec& layer = spec_->layers[static_cast<size_t>(i)];
    switch (layer.kind) {
      case LayerKind::Embedding:
        embed(ctx, batch, x);
        break;
      case LayerKind::Block:
        block(ctx, batch, layer.block - first_block_, x);
        break;
      case LayerKind::Head: {
        // Only the rows that need logits go through the norm and the (large) head GEMM.
        const auto n = static_cast<int64_t>(batch.logit_rows.size());
        const TensorView g = scratch(gathered_, n, hidden);
        ops::gather_rows(ctx, x, batch.logit_rows, g);
        final_norm(ctx, g);
        out.reshape(Shape{n, spec_->vocab_size});
        ops::linear(ctx, g, head_weight().view, ops::WeightLayout::OutIn, TensorView{}, out.view);
        return;
      }
      default:
        fail_runtime("layer ", i, " (", layer.name, ") is not a transformer layer");
    }
  }
  // A copy rather than a swap of buffers: every buffer then keeps one role and one size, so
  // reserve() can size each for good (the copy costs well under 1% of the layers' work).
  out.reshape(x.shape);
  ops::copy(ctx, x, out.view);
}

}  // namespace ps
