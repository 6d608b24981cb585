// softmax and log_softmax over the last dimension, in place; one block per row. The max is
// subtracted first (no overflow); the sum of exponentials accumulates in f32 in a tree (the CPU
// op sums in double in sequence; a tree of f32 partial sums loses ~log2(vocab) ulp at worst,
// ~1e-6 for a 150K vocabulary). Exponentials are recomputed in the last pass rather than stored,
// so the row is read three times and written once.
#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/norm_threads.h"

namespace ps::cuda {

namespace {

template <class T, bool Log>
__global__ void softmax_kernel(T* x, int64_t d) {
  __shared__ float scratch[32];
  T* r = x + static_cast<int64_t>(blockIdx.x) * d;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) m = fmaxf(m, to_f32(r[j]));
  m = block_max(m, scratch);
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) s += expf(to_f32(r[j]) - m);
  s = block_sum(s, scratch);
  if (Log) {
    const float lse = m + logf(s);
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) r[j] = from_f32<T>(to_f32(r[j]) - lse);
  } else {
    const float inv = 1.0f / s;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) r[j] = from_f32<T>(expf(to_f32(r[j]) - m) * inv);
  }
}

template <bool Log>
void launch_softmax(const OpContext& ctx, const char* op, const TensorView& x) {
  const int64_t d = x.dim(x.rank() - 1);
  if (d == 0 || x.numel() == 0) return;
  const unsigned rows = static_cast<unsigned>(to_int(op, "rows", x.numel() / d));
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_kernel<T, Log><<<rows, row_threads(d), 0, stream_of(ctx)>>>(static_cast<T*>(x.data), d);
    PS_CUDA_LAUNCH_CHECK("softmax_kernel");
  });
}

}  // namespace

void softmax(const OpContext& ctx, const TensorView& x) { launch_softmax<false>(ctx, "softmax", x); }
void log_softmax(const OpContext& ctx, const TensorView& x) { launch_softmax<true>(ctx, "log_softmax", x); }

}  // namespace ps::cuda
