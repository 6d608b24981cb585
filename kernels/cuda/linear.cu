// y[n, out] = x[n, in] * W (+ bias) through cuBLAS (cublasGemmEx), then the bias in a broadcast
// kernel (the CPU op also adds it after the product).
//
// Row-major tensors are column-major transposes, so the product is computed as
// y^T[out, n] = op(W) * x^T, with x^T the row-major x read as column-major [in, n]:
//   OutIn (W row-major [out, in] = column-major [in, out]): op = T, lda = in
//   InOut (W row-major [in, out] = column-major [out, in]): op = N, lda = out
// f32 runs the full-precision f32 GEMM (no TF32); f16/bf16 run tensor-core GEMMs with f32
// accumulation (CUBLAS_COMPUTE_32F), rounding once to the storage type.
#include "kernels/cuda/cublas_handle.h"
#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_math.cuh"

namespace ps::cuda {

namespace {

template <class T>
__global__ void add_bias_kernel(T* y, const T* bias, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] = from_f32<T>(to_f32(y[i]) + to_f32(bias[i % cols]));
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::F32: return CUDA_R_32F;
    case DType::F16: return CUDA_R_16F;
    case DType::BF16: return CUDA_R_16BF;
  }
  fail_runtime("linear: unsupported dtype");
}

}  // namespace

void linear(const OpContext& ctx, const TensorView& x, const TensorView& weight, ops::WeightLayout layout,
            const TensorView& bias, const TensorView& out) {
  const bool out_in = layout == ops::WeightLayout::OutIn;
  const int64_t n = x.dim(0), in = x.dim(1);
  const int64_t out_f = out_in ? weight.dim(0) : weight.dim(1);
  if (n == 0 || out_f == 0) return;

  const cudaStream_t stream = stream_of(ctx);
  const int m_ = to_int("linear", "out_features", out_f), n_ = to_int("linear", "rows", n);
  const int k_ = to_int("linear", "in_features", in);
  if (k_ == 0) {
    PS_CUDA_CHECK(cudaMemsetAsync(out.data, 0, out.nbytes(), stream));  // an empty sum
  } else {
    const float alpha = 1.0f, beta = 0.0f;  // f32 scalars: the compute type is f32
    const cudaDataType_t t = cuda_type(x.dtype);
    PS_CUBLAS_CHECK(cublasGemmEx(cublas_handle(stream), out_in ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, m_, n_,
                                 k_, &alpha, weight.data, t, out_in ? k_ : m_, x.data, t, k_, &beta, out.data, t,
                                 m_, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  if (bias.empty()) return;
  dispatch_dtype(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    add_bias_kernel<T><<<grid_for(n * out_f, 256), 256, 0, stream>>>(static_cast<T*>(out.data),
                                                                      static_cast<const T*>(bias.data), n, out_f);
    PS_CUDA_LAUNCH_CHECK("add_bias_kernel");
  });
}

}  // namespace ps::cuda
