// Elementwise kernels as one grid-stride loop each, parameterised by a functor on f32 values:
// the activations (in place) and the two-input ops (add, silu_mul). Memory bound; each element
// is loaded once, computed in f32 and stored once.
#pragma once

#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_math.cuh"

namespace ps::cuda {

template <class T, class F>
__global__ void unary_kernel(T* x, int64_t n, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] = from_f32<T>(f(to_f32(x[i])));
}

template <class T, class F>
__global__ void binary_kernel(const T* a, const T* b, T* out, int64_t n, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = from_f32<T>(f(to_f32(a[i]), to_f32(b[i])));
}

constexpr int kElementwiseThreads = 256;

// x = f(x) in place, x of any dtype.
template <class F>
void launch_unary(const OpContext& ctx, const TensorView& x, F f) {
  const int64_t n = x.numel();
  if (n == 0) return;
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    unary_kernel<<<grid_for(n, kElementwiseThreads), kElementwiseThreads, 0, stream_of(ctx)>>>(
        static_cast<T*>(x.data), n, f);
    PS_CUDA_LAUNCH_CHECK("unary_kernel");
  });
}

// out = f(a, b) over equal shapes (out may alias a or b: each element is read before written).
template <class F>
void launch_binary(const OpContext& ctx, const TensorView& a, const TensorView& b, const TensorView& out, F f) {
  const int64_t n = a.numel();
  if (n == 0) return;
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    binary_kernel<<<grid_for(n, kElementwiseThreads), kElementwiseThreads, 0, stream_of(ctx)>>>(
        static_cast<const T*>(a.data), static_cast<const T*>(b.data), static_cast<T*>(out.data), n, f);
    PS_CUDA_LAUNCH_CHECK("binary_kernel");
  });
}

}  // namespace ps::cuda
