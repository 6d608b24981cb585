// Rotate-half RoPE (HF's apply_rotary_pos_emb), in place on x[n, heads, head_dim]. The angle
// pos * inv_freq[j] is formed in double and its cos/sin rounded to f32: an f32 product would
// carry an error of pos * 2^-24 rad, already 5e-4 rad at position 8192. Each (row, j) angle is
// computed once and applied to every head.
#include <cmath>

#include "kernels/cpu/grain.h"
#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

void rope(const OpContext& ctx, const TensorView& x, std::span<const int32_t> positions,
          std::span<const float> inv_freq) {
  const int64_t n = x.dim(0), heads = x.dim(1), head_dim = x.dim(2);
  const auto half = static_cast<int64_t>(inv_freq.size());

  float* px = x.f32();
  const int64_t row = heads * head_dim;
  parallel_for(ctx.pool, n, grain_for(8 * row), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const auto pos = static_cast<double>(positions[static_cast<size_t>(i)]);
      float* xr = px + i * row;
      for (int64_t j = 0; j < half; ++j) {
        const double angle = pos * static_cast<double>(inv_freq[static_cast<size_t>(j)]);
        const auto c = static_cast<float>(std::cos(angle));
        const auto s = static_cast<float>(std::sin(angle));
        for (int64_t h = 0; h < heads; ++h) {
          float* xh = xr + h * head_dim;
          const float x1 = xh[j], x2 = xh[j + half];
          xh[j] = x1 * c - x2 * s;
          xh[j + half] = x2 * c + x1 * s;
        }
      }
    }
  });
}

}  // namespace ps::cpu
