// Writes each row's K and V into its (slot, position) of one layer's cache
// k/v[slots, max_ctx, kv_heads, head_dim]. (slot, position) pairs are checked on the host
// (op_checks.cpp) and uploaded together; one block per row copies both K and V.
#include <vector>

#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_math.cuh"

namespace ps::cuda {

namespace {

// at[i] = (slot * max_ctx + position) for row i: the cache row it goes to.
template <class T>
__global__ void kv_store_kernel(T* ck, T* cv, const T* k, const T* v, const int64_t* at, int64_t row) {
  const int64_t dst = at[blockIdx.x] * row, src = static_cast<int64_t>(blockIdx.x) * row;
  for (int64_t j = threadIdx.x; j < row; j += blockDim.x) {
    ck[dst + j] = k[src + j];
    cv[dst + j] = v[src + j];
  }
}

}  // namespace

void kv_store(const OpContext& ctx, const ops::KvLayerView& cache, const TensorView& k, const TensorView& v,
              std::span<const int32_t> slots, std::span<const int32_t> positions) {
  const DType dt = cache.k.dtype;
  const int64_t max_ctx = cache.k.dim(1);
  const int64_t row = cache.k.dim(2) * cache.k.dim(3);  // kv_heads * head_dim
  const int64_t n = k.dim(0);

  std::vector<int64_t> at(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t s = slots[static_cast<size_t>(i)], p = positions[static_cast<size_t>(i)];
    at[static_cast<size_t>(i)] = static_cast<int64_t>(s) * max_ctx + p;
  }
  if (n == 0 || row == 0) return;

  const cudaStream_t stream = stream_of(ctx);
  const DeviceScratch d_at = upload(stream, std::span<const int64_t>(at));
  dispatch_dtype(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kv_store_kernel<T><<<static_cast<unsigned>(to_int("kv_store", "rows", n)), 128, 0, stream>>>(
        static_cast<T*>(cache.k.data), static_cast<T*>(cache.v.data), static_cast<const T*>(k.data),
        static_cast<const T*>(v.data), d_at.as<int64_t>(), row);
    PS_CUDA_LAUNCH_CHECK("kv_store_kernel");
  });
}

}  // namespace ps::cuda
