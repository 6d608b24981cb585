// The layer loop shared by the transformer families: embedding, blocks and head run in the
// order of the model's layer list; each family supplies its embedding, its block, its final
// norm and its head weight, from the layer structs it binds when built. Scratch activations live
// here and are reused across calls (they only grow).
#pragma once

#include <vector>

#include "runtime/models/kv_cache.h"
#include "runtime/models/stage_model.h"

namespace ps {

class TransformerStage : public StageModel {
 public:
  void forward(const OpContext& ctx, const TokenBatch& batch, const TensorView& in, OwnedTensor& out) override;

 protected:
  TransformerStage(const ModelSpec& spec, StageWeights weights, int first, int last, const StageOptions& options);

  virtual void embed(const OpContext& ctx, const TokenBatch& batch, const TensorView& x) = 0;
  // The stage's block `local` (0 = its first block; it also indexes the KV cache) in place on
  // x [rows, hidden].
  virtual void block(const OpContext& ctx, const TokenBatch& batch, int local, const TensorView& x) = 0;
  virtual void final_norm(const OpContext& ctx, const TensorView& x) = 0;
  // The LM head [vocab, hidden] (stored [out, in]); called only on a stage that holds the head.
  virtual const Weight& head_weight() const = 0;

  // The model's block numbers this stage holds, in order: entry `local` is block() `local`'s.
  std::vector<int> stage_blocks() const;

  // Attention over the cache for rows whose q, k, v are computed: stores k/v, then attends.
  // q [rows, heads*head_dim], k/v [rows, kv_heads*head_dim]; result in attn_ [rows, heads*head_dim].
  void attend(const OpContext& ctx, const TokenBatch& batch, int local, const TensorView& q, const TensorView& k,
              const TensorView& v);

  // Scratch, shaped per call by scratch(): named for what they hold.
  OwnedTensor x_, normed_, q_, k_, v_, attn_, proj_, mlp_a_, mlp_b_, gathered_;
  KvCache cache_;
  int first_block_ = 0;  // block number of this stage's first block (cache index 0)
};

}  // namespace ps
