#include "runtime/models/kv_cache.h"

namespace ps {

KvCache::KvCache(int layers, int slots, int64_t max_ctx, int64_t kv_heads, int64_t head_dim)
    : slots_(slots), max_ctx_(max_ctx) {
  for (int i = 0; i < layers; ++i) {
    k_.emplace_back(Shape{slots, max_ctx, kv_heads, head_dim});
    v_.emplace_back(Shape{slots, max_ctx, kv_heads, head_dim});
  }
}

uint64_t KvCache::bytes() const {
  uint64_t b = 0;
  for (const auto& t : k_) b += t.view.nbytes();
  for (const auto& t : v_) b += t.view.nbytes();
  return b;
}

}  // namespace ps
