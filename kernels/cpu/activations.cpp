// The `mlp` family's other activations, in place, as torch defines them: nn.GELU() (exact, erf),
// nn.SiLU() (x * sigmoid(x)) and tanh.
#include <cmath>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/unary.h"

namespace ps::cpu {

void gelu_erf(const OpContext& ctx, const TensorView& x) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  unary_inplace(ctx, x, 16, [](float v) { return 0.5f * v * (1.0f + std::erf(v * kInvSqrt2)); });
}

void silu(const OpContext& ctx, const TensorView& x) {
  unary_inplace(ctx, x, 16, [](float v) { return v / (1.0f + std::exp(-v)); });
}

void tanh_act(const OpContext& ctx, const TensorView& x) {
  unary_inplace(ctx, x, 16, [](float v) { return std::tanh(v); });
}

}  // namespace ps::cpu
