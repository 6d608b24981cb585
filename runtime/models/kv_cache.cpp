#include "runtime/models/kv_cache.h"

namespace ps {

KvCache::KvCache(int layers, int slots, int64_t max_ctx, int64_t kv_heads, int64_t head_dim, Device device,
                 DType dtype)
    : slots_(slots), max_ctx_(max_ctx) {
  const Shape shape{slots, max_ctx, kv_heads, head_dim};
  for (int i = 0; i < layers; ++i) {
    k_.emplace_back(device, dtype);
    v_.emplace_back(device, dtype);
    k_.back().reshape(shape);
    v_.back().reshape(shape);
    // Commit the whole cache now: untouched pages would otherwise become resident one by one
    // as sequences reach new positions, and the stage's memory would creep up for hours.
    k_.back().reserve(k_.back().view.numel());
    v_.back().reserve(v_.back().view.numel());
  }
}

uint64_t KvCache::bytes() const {
  uint64_t b = 0;
  for (const auto& t : k_) b += t.view.nbytes();
  for (const auto& t : v_) b += t.view.nbytes();
  return b;
}

}  // namespace ps
