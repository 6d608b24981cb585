// dst[i, :] = src[rows[i], :]: the head only needs the rows that produce logits.
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/row_gather.cuh"

namespace ps::cuda {

void gather_rows(const OpContext& ctx, const TensorView& src, std::span<const int32_t> rows, const TensorView& dst) {
  launch_row_gather(ctx, "gather_rows", src, rows, dst, false);
}

}  // namespace ps::cuda
