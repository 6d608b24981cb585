// RMSNorm over the last dimension as HF's LlamaRMSNorm: weight * (x * rsqrt(mean(x^2) + eps)).
// One block per row; the mean square accumulates in f32 (a sum of non-negative terms in a tree
// loses ~log2(d) ulp at worst). In f16/bf16 the normalised value is rounded to the storage type
// before the weight multiplies it, as HF does (`weight * hidden.to(input_dtype)`). out may alias x.
#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/norm_threads.h"

namespace ps::cuda {

namespace {

template <class T>
__global__ void rms_norm_kernel(const T* x, const T* weight, float eps, T* out, int64_t d) {
  __shared__ float scratch[32];
  const T* xr = x + static_cast<int64_t>(blockIdx.x) * d;
  T* orow = out + static_cast<int64_t>(blockIdx.x) * d;

  float sq = 0.0f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    const float v = to_f32(xr[j]);
    sq += v * v;
  }
  sq = block_sum(sq, scratch);
  const float rstd = 1.0f / sqrtf(sq / static_cast<float>(d) + eps);

  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    const float normed = to_f32(from_f32<T>(to_f32(xr[j]) * rstd));  // identity for f32
    orow[j] = from_f32<T>(to_f32(weight[j]) * normed);
  }
}

}  // namespace

void rms_norm(const OpContext& ctx, const TensorView& x, const TensorView& weight, float eps,
              const TensorView& out) {
  const int64_t d = x.dim(x.rank() - 1);
  if (d == 0 || x.numel() == 0) return;
  const unsigned rows = static_cast<unsigned>(to_int("rms_norm", "rows", x.numel() / d));
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    rms_norm_kernel<T><<<rows, row_threads(d), 0, stream_of(ctx)>>>(
        static_cast<const T*>(x.data), static_cast<const T*>(weight.data), eps, static_cast<T*>(out.data), d);
    PS_CUDA_LAUNCH_CHECK("rms_norm_kernel");
  });
}

}  // namespace ps::cuda
