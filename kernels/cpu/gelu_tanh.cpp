// GPT-2's activation ("gelu_new"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in place,
// evaluated in f32 in the order HF writes it.
#include <cmath>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/unary.h"

namespace ps::cpu {

void gelu_tanh(const OpContext& ctx, const TensorView& x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  unary_inplace(ctx, x, 16, [](float v) {
    return 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
  });
}

}  // namespace ps::cpu
