// The in-place activations, with the CPU ops' formulas in f32 (kernels/cpu/gelu_tanh.cpp, relu.cpp,
// activations.cpp): GPT-2's tanh GELU, ReLU, torch's exact (erf) GELU, SiLU and tanh. CUDA's
// tanhf/erff/expf are within 2 ulp of the C library's, far inside the 1e-5 the tests allow.
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/elementwise.cuh"

namespace ps::cuda {

namespace {

struct GeluTanh {
  __device__ float operator()(float v) const {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    return 0.5f * v * (1.0f + tanhf(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
  }
};

struct Relu {  // NaN stays NaN, as in torch (v < 0 is false for NaN)
  __device__ float operator()(float v) const { return v < 0.0f ? 0.0f : v; }
};

struct GeluErf {
  __device__ float operator()(float v) const {
    constexpr float kInvSqrt2 = 0.70710678118654752f;
    return 0.5f * v * (1.0f + erff(v * kInvSqrt2));
  }
};

struct Silu {
  __device__ float operator()(float v) const { return v / (1.0f + expf(-v)); }
};

struct Tanh {
  __device__ float operator()(float v) const { return tanhf(v); }
};

}  // namespace

void gelu_tanh(const OpContext& ctx, const TensorView& x) { launch_unary(ctx, x, GeluTanh{}); }
void relu(const OpContext& ctx, const TensorView& x) { launch_unary(ctx, x, Relu{}); }
void gelu_erf(const OpContext& ctx, const TensorView& x) { launch_unary(ctx, x, GeluErf{}); }
void silu(const OpContext& ctx, const TensorView& x) { launch_unary(ctx, x, Silu{}); }
void tanh_act(const OpContext& ctx, const TensorView& x) { launch_unary(ctx, x, Tanh{}); }

}  // namespace ps::cuda
