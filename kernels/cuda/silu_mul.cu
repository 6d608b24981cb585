// The SwiGLU gate of Llama's MLP: out = silu(gate) * up, in the CPU op's order
// (g / (1 + exp(-g)) * u; for g -> -inf the quotient is -0, not NaN). out may alias gate.
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/elementwise.cuh"

namespace ps::cuda {

namespace {
struct SiluMul {
  __device__ float operator()(float g, float u) const { return g / (1.0f + expf(-g)) * u; }
};
}  // namespace

void silu_mul(const OpContext& ctx, const TensorView& gate, const TensorView& up, const TensorView& out) {
  launch_binary(ctx, gate, up, out, SiluMul{});
}

}  // namespace ps::cuda
