// Residual add: out = a + b, elementwise over equal shapes (out may alias a or b).
#include "kernels/cpu/grain.h"
#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

void add(const OpContext& ctx, const TensorView& a, const TensorView& b, const TensorView& out) {
  const float* pa = a.f32();
  const float* pb = b.f32();
  float* po = out.f32();
  parallel_for(ctx.pool, a.numel(), grain_for(1), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) po[i] = pa[i] + pb[i];
  });
}

}  // namespace ps::cpu
