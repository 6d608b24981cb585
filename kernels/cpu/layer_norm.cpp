// LayerNorm over the last dimension: (x - mean) / sqrt(var + eps) * gamma + beta, biased variance
// as torch computes it. Mean and variance are accumulated in double in two passes (no
// cancellation) and x is centred in double: an f32 mean of a row offset by 50 is off by 2e-6,
// which the normalisation would magnify. gamma and beta apply in f32. out may alias x.
#include <cmath>

#include "kernels/cpu/grain.h"
#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

void layer_norm(const OpContext& ctx, const TensorView& x, const TensorView& gamma, const TensorView& beta,
                float eps, const TensorView& out) {
  const int64_t d = x.dim(x.rank() - 1);
  if (d == 0) return;
  const int64_t rows = x.numel() / d;
  const float* px = x.f32();
  const float* g = gamma.f32();
  const float* b = beta.f32();
  float* po = out.f32();
  parallel_for(ctx.pool, rows, grain_for(4 * d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = px + r * d;
      float* orow = po + r * d;
      double sum = 0.0;
      for (int64_t j = 0; j < d; ++j) sum += xr[j];
      const double mean = sum / static_cast<double>(d);
      double sq = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        const double c = xr[j] - mean;
        sq += c * c;
      }
      const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(d) + eps);
      for (int64_t j = 0; j < d; ++j) orow[j] = static_cast<float>((xr[j] - mean) * rstd) * g[j] + b[j];
    }
  });
}

}  // namespace ps::cpu
