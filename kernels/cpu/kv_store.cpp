// Writes each row's K and V into its (slot, position) of one layer's cache
// k/v[slots, max_ctx, kv_heads, head_dim]. A row is a few KB: plain copies, no threads.
#include <cstring>

#include "kernels/cpu/cpu_check.h"
#include "kernels/cpu/cpu_ops.h"

namespace ps::cpu {

void kv_store(const OpContext& ctx, const ops::KvLayerView& cache, const TensorView& k, const TensorView& v,
              std::span<const int32_t> slots, std::span<const int32_t> positions) {
  check_f32("kv_store", "cache.k", cache.k);
  check_f32("kv_store", "cache.v", cache.v);
  check_f32("kv_store", "k", k);
  check_f32("kv_store", "v", v);
  check_rank("kv_store", "cache.k", cache.k, 4);
  check_shape("kv_store", "cache.v", cache.v, cache.k.shape);
  const int64_t n_slots = cache.k.dim(0), max_ctx = cache.k.dim(1);
  const int64_t row = cache.k.dim(2) * cache.k.dim(3);  // kv_heads * head_dim
  const int64_t n = k.rank() >= 1 ? k.dim(0) : 0;
  if (k.rank() < 2 || k.numel() != n * row)
    fail_runtime("kv_store: k has shape ", k.shape.str(), ", expected [n, ", row, "] for cache ",
                 cache.k.shape.str());
  check_shape("kv_store", "v", v, k.shape);
  check_count("kv_store", "slots", slots.size(), n);
  check_count("kv_store", "positions", positions.size(), n);

  const auto bytes = static_cast<size_t>(row) * sizeof(float);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t s = slots[static_cast<size_t>(i)], p = positions[static_cast<size_t>(i)];
    if (s < 0 || s >= n_slots || p < 0 || p >= max_ctx)
      fail_runtime("kv_store: row ", i, " has slot ", s, " position ", p, ", outside the cache (", n_slots,
                   " slots of ", max_ctx, " positions)");
    const int64_t at = (static_cast<int64_t>(s) * max_ctx + p) * row;
    std::memcpy(cache.k.f32() + at, k.f32() + i * row, bytes);
    std::memcpy(cache.v.f32() + at, v.f32() + i * row, bytes);
  }
}

}  // namespace ps::cpu
