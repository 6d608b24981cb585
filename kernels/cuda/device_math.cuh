// Device-side building blocks shared by the kernels: f32 loads and stores of every storage dtype
// (each kernel computes in f32 and rounds once, to nearest even, on store), warp and block
// reductions, and the host-side dtype switch that picks a kernel instantiation.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "runtime/core/error.h"
#include "runtime/core/tensor.h"

namespace ps::cuda {

// ---- element access ------------------------------------------------------------------------
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// ---- reductions ----------------------------------------------------------------------------
constexpr int kWarp = 32;

__device__ __forceinline__ float warp_sum(float v) {
  for (int off = kWarp / 2; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int off = kWarp / 2; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

// Sum (or max) over the block, returned to every thread. `scratch` holds one float per warp;
// blockDim.x must be a multiple of 32. Two __syncthreads: a second call may reuse `scratch`.
template <bool Max>
__device__ float block_reduce(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  v = Max ? warp_max(v) : warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = Max ? -INFINITY : 0.0f;
  for (int w = 0; w < warps; ++w) r = Max ? fmaxf(r, scratch[w]) : r + scratch[w];
  __syncthreads();
  return r;
}
__device__ __forceinline__ float block_sum(float v, float* scratch) { return block_reduce<false>(v, scratch); }
__device__ __forceinline__ float block_max(float v, float* scratch) { return block_reduce<true>(v, scratch); }

// ---- host: dtype -> instantiation ----------------------------------------------------------
template <class T>
struct TypeTag {
  using type = T;
};

// f(TypeTag<float>{}), f(TypeTag<__half>{}) or f(TypeTag<__nv_bfloat16>{}) by dtype.
template <class F>
void dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::F32: return f(TypeTag<float>{});
    case DType::F16: return f(TypeTag<__half>{});
    case DType::BF16: return f(TypeTag<__nv_bfloat16>{});
  }
  fail_runtime("CUDA backend: unsupported dtype ", static_cast<int>(dtype));
}

// Blocks for a grid-stride loop over n elements: enough to fill any current GPU, never more
// than the elements need.
inline unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 8192 ? 8192 : blocks));
}

}  // namespace ps::cuda
