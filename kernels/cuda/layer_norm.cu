// LayerNorm over the last dimension: (x - mean) / sqrt(var + eps) * gamma + beta, biased
// variance as torch computes it. One block per row, f32 throughout. The CPU op accumulates in
// double; here a corrected two-pass algorithm (Chan, Golub & LeVeque) gets the same accuracy in
// f32: pass 1 gives an approximate mean m0, pass 2 sums d = x - m0 and d^2, and the sum of d
// corrects m0's rounding (mean = m0 + sum(d)/n, var = (sum(d^2) - sum(d)^2/n) / n). A row offset
// by 50 then loses nothing to cancellation. out may alias x (each element is read before its
// own thread writes it).
#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/norm_threads.h"

namespace ps::cuda {

namespace {

template <class T>
__global__ void layer_norm_kernel(const T* x, const T* gamma, const T* beta, float eps, T* out, int64_t d) {
  __shared__ float scratch[32];
  const T* xr = x + static_cast<int64_t>(blockIdx.x) * d;
  T* orow = out + static_cast<int64_t>(blockIdx.x) * d;
  const auto fd = static_cast<float>(d);

  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) s += to_f32(xr[j]);
  const float m0 = block_sum(s, scratch) / fd;

  float dev = 0.0f, sq = 0.0f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    const float c = to_f32(xr[j]) - m0;
    dev += c;
    sq += c * c;
  }
  dev = block_sum(dev, scratch);
  sq = block_sum(sq, scratch);
  const float mean = m0 + dev / fd;
  const float var = fmaxf((sq - dev * dev / fd) / fd, 0.0f);
  const float rstd = 1.0f / sqrtf(var + eps);

  for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
    orow[j] = from_f32<T>(((to_f32(xr[j]) - mean) * rstd) * to_f32(gamma[j]) + to_f32(beta[j]));
}

}  // namespace

void layer_norm(const OpContext& ctx, const TensorView& x, const TensorView& gamma, const TensorView& beta,
                float eps, const TensorView& out) {
  const int64_t d = x.dim(x.rank() - 1);
  if (d == 0 || x.numel() == 0) return;
  const unsigned rows = static_cast<unsigned>(to_int("layer_norm", "rows", x.numel() / d));
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer_norm_kernel<T><<<rows, row_threads(d), 0, stream_of(ctx)>>>(
        static_cast<const T*>(x.data), static_cast<const T*>(gamma.data), static_cast<const T*>(beta.data), eps,
        static_cast<T*>(out.data), d);
    PS_CUDA_LAUNCH_CHECK("layer_norm_kernel");
  });
}

}  // namespace ps::cuda
