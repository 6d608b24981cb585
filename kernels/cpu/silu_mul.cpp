// The SwiGLU gate of Llama's MLP: out = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
// out may alias gate (each element is read before it is written).
#include <cmath>

#include "kernels/cpu/grain.h"
#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

void silu_mul(const OpContext& ctx, const TensorView& gate, const TensorView& up, const TensorView& out) {
  const float* g = gate.f32();
  const float* u = up.f32();
  float* o = out.f32();
  parallel_for(ctx.pool, gate.numel(), grain_for(16), [&](int64_t i0, int64_t i1) {
    // For g -> -inf, exp(-g) overflows to inf and g / inf = -0: the correct limit, no NaN.
    for (int64_t i = i0; i < i1; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  });
}

}  // namespace ps::cpu
