// RMSNorm over the last dimension as HF's LlamaRMSNorm: weight * (x * rsqrt(mean(x^2) + eps)).
// The mean square is accumulated in double; the scaling is f32, in HF's order. out may alias x.
#include <cmath>

#include "kernels/cpu/grain.h"
#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

void rms_norm(const OpContext& ctx, const TensorView& x, const TensorView& weight, float eps,
              const TensorView& out) {
  const int64_t d = x.dim(x.rank() - 1);
  if (d == 0) return;
  const int64_t rows = x.numel() / d;
  const float* px = x.f32();
  const float* w = weight.f32();
  float* po = out.f32();
  parallel_for(ctx.pool, rows, grain_for(3 * d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = px + r * d;
      float* orow = po + r * d;
      double sq = 0.0;
      for (int64_t j = 0; j < d; ++j) sq += static_cast<double>(xr[j]) * xr[j];
      const auto rstd = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(d) + eps));
      for (int64_t j = 0; j < d; ++j) orow[j] = w[j] * (xr[j] * rstd);
    }
  });
}

}  // namespace ps::cpu
