// dst[n, k] = src[n, col0 : col0 + k]: splits GPT-2's fused q|k|v projection. A strided copy is
// what cudaMemcpy2DAsync does (the copy engines, no kernel of ours).
#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"

namespace ps::cuda {

void copy_columns(const OpContext& ctx, const TensorView& src, int64_t col0, const TensorView& dst) {
  const int64_t rows = src.shape[0], width = src.shape[1], k = dst.shape[1];
  if (rows == 0 || k == 0) return;
  const size_t es = dtype_size(src.dtype);
  const auto* from = static_cast<const char*>(src.data) + static_cast<size_t>(col0) * es;
  PS_CUDA_CHECK(cudaMemcpy2DAsync(dst.data, static_cast<size_t>(k) * es, from, static_cast<size_t>(width) * es,
                                  static_cast<size_t>(k) * es, static_cast<size_t>(rows), cudaMemcpyDeviceToDevice,
                                  stream_of(ctx)));
}

}  // namespace ps::cuda
