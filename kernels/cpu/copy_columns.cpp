// dst[n, k] = src[n, col0 : col0 + k]: splits GPT-2's fused q|k|v projection into contiguous
// tensors for the RoPE/KV-cache/attention ops, which take dense rows.
#include <cstring>

#include "kernels/cpu/cpu_ops.h"

namespace ps::cpu {

void copy_columns(const OpContext& ctx, const TensorView& src, int64_t col0, const TensorView& dst) {
  const int64_t rows = src.shape[0], width = src.shape[1], k = dst.shape[1];
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(dst.f32() + r * k, src.f32() + r * width + col0, static_cast<size_t>(k) * sizeof(float));
}

}  // namespace ps::cpu
