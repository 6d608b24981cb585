// Writes each row's K and V into its (slot, position) of one layer's cache
// k/v[slots, max_ctx, kv_heads, head_dim]. A row is a few KB: plain copies, no threads.
#include <cstring>

#include "kernels/cpu/cpu_ops.h"

namespace ps::cpu {

void kv_store(const OpContext& ctx, const ops::KvLayerView& cache, const TensorView& k, const TensorView& v,
              std::span<const int32_t> slots, std::span<const int32_t> positions) {
  const int64_t max_ctx = cache.k.dim(1);
  const int64_t row = cache.k.dim(2) * cache.k.dim(3);  // kv_heads * head_dim
  const int64_t n = k.dim(0);
  const auto bytes = static_cast<size_t>(row) * sizeof(float);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t s = slots[static_cast<size_t>(i)], p = positions[static_cast<size_t>(i)];
    const int64_t at = (static_cast<int64_t>(s) * max_ctx + p) * row;
    std::memcpy(cache.k.f32() + at, k.f32() + i * row, bytes);
    std::memcpy(cache.v.f32() + at, v.f32() + i * row, bytes);
  }
}

}  // namespace ps::cpu
