// softmax and log_softmax over the last dimension, in place. The max is subtracted first (no
// overflow) and the sum of exponentials is accumulated in double: a 150K-token vocabulary in f32
// would lose ~1e-5 of it.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/grain.h"
#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

namespace {

// Runs f(row pointer, d) for every row of x's last dimension on the pool.
template <class F>
void for_each_row(const OpContext& ctx, const TensorView& x, F f) {
  const int64_t d = x.dim(x.rank() - 1);
  if (d == 0) return;
  float* p = x.f32();
  parallel_for(ctx.pool, x.numel() / d, grain_for(16 * d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) f(p + r * d, d);
  });
}

float row_max(const float* x, int64_t d) { return *std::max_element(x, x + d); }

}  // namespace

void softmax(const OpContext& ctx, const TensorView& x) {
  for_each_row(ctx, x, [](float* r, int64_t d) {
    const float m = row_max(r, d);
    double sum = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      r[j] = std::exp(r[j] - m);
      sum += r[j];
    }
    const auto inv = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < d; ++j) r[j] *= inv;
  });
}

void log_softmax(const OpContext& ctx, const TensorView& x) {
  for_each_row(ctx, x, [](float* r, int64_t d) {
    const float m = row_max(r, d);
    double sum = 0.0;
    for (int64_t j = 0; j < d; ++j) sum += std::exp(static_cast<double>(r[j]) - m);
    const double lse = static_cast<double>(m) + std::log(sum);
    for (int64_t j = 0; j < d; ++j) r[j] = static_cast<float>(r[j] - lse);
  });
}

}  // namespace ps::cpu
