// The KV cache of one stage: for each of its blocks, k and v of shape
// [slots, max_ctx, kv_heads, head_dim]. A sequence owns a slot while it runs; a finished
// sequence frees its slot and the next one overwrites it (positions restart at 0, and attention
// only reads positions <= the row's own, so nothing needs clearing). The memory is zero-filled
// (committed) when the cache is made.
#pragma once

#include <vector>

#include "kernels/ops.h"
#include "kernels/owned_tensor.h"

namespace ps {

class KvCache {
 public:
  KvCache() = default;
  KvCache(int layers, int slots, int64_t max_ctx, int64_t kv_heads, int64_t head_dim, Device device = Device::cpu(),
          DType dtype = DType::F32);
  ops::KvLayerView layer(int i) const { return {k_[static_cast<size_t>(i)].view, v_[static_cast<size_t>(i)].view}; }
  int slots() const { return slots_; }
  int64_t max_ctx() const { return max_ctx_; }
  uint64_t bytes() const;

 private:
  std::vector<OwnedTensor> k_, v_;
  int slots_ = 0;
  int64_t max_ctx_ = 0;
};

}  // namespace ps
