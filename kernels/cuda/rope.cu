// Rotate-half RoPE in place on x[n, heads, head_dim], as the CPU op (kernels/cpu/rope.cpp): the
// angle pos * inv_freq[j] is formed in double and its cos/sin rounded to f32 (an f32 product
// would be off by pos * 2^-24 rad). One block per row: the row's angles are computed once into
// shared memory, then applied to every head.

#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_math.cuh"

namespace ps::cuda {

namespace {

template <class T>
__global__ void rope_kernel(T* x, const int32_t* positions, const float* inv_freq, int heads, int head_dim,
                            int half) {
  extern __shared__ float cos_sin[];  // cos[half], then sin[half]
  const auto pos = static_cast<double>(positions[blockIdx.x]);
  for (int j = threadIdx.x; j < half; j += blockDim.x) {
    double s, c;
    sincos(pos * static_cast<double>(inv_freq[j]), &s, &c);
    cos_sin[j] = static_cast<float>(c);
    cos_sin[half + j] = static_cast<float>(s);
  }
  __syncthreads();
  T* xr = x + static_cast<int64_t>(blockIdx.x) * heads * head_dim;
  for (int idx = threadIdx.x; idx < heads * half; idx += blockDim.x) {
    const int h = idx / half, j = idx % half;
    T* xh = xr + static_cast<int64_t>(h) * head_dim;
    const float x1 = to_f32(xh[j]), x2 = to_f32(xh[j + half]);
    const float c = cos_sin[j], s = cos_sin[half + j];
    xh[j] = from_f32<T>(x1 * c - x2 * s);
    xh[j + half] = from_f32<T>(x2 * c + x1 * s);
  }
}

}  // namespace

void rope(const OpContext& ctx, const TensorView& x, std::span<const int32_t> positions,
          std::span<const float> inv_freq) {
  const int64_t n = x.dim(0), heads = x.dim(1), head_dim = x.dim(2);
  const auto half = static_cast<int64_t>(inv_freq.size());
  if (n == 0 || heads == 0 || half == 0) return;

  const cudaStream_t stream = stream_of(ctx);
  const DeviceScratch d_pos = upload(stream, positions);
  const DeviceScratch d_freq = upload(stream, inv_freq);
  const unsigned rows = static_cast<unsigned>(to_int("rope", "rows", n));
  const int h = to_int("rope", "heads", heads), hd = to_int("rope", "head_dim", head_dim);
  const int hf = static_cast<int>(half);
  const size_t smem = 2 * static_cast<size_t>(half) * sizeof(float);  // half <= head_dim / 2: small
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    rope_kernel<T><<<rows, 128, smem, stream>>>(static_cast<T*>(x.data), d_pos.as<int32_t>(), d_freq.as<float>(), h,
                                                hd, hf);
    PS_CUDA_LAUNCH_CHECK("rope_kernel");
  });
}

}  // namespace ps::cuda
