// x = max(x, 0), in place (the `mlp` family's activation). NaN stays NaN, as in torch.
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/unary.h"

namespace ps::cpu {

void relu(const OpContext& ctx, const TensorView& x) {
  unary_inplace(ctx, x, 1, [](float v) { return v < 0.0f ? 0.0f : v; });
}

}  // namespace ps::cpu
