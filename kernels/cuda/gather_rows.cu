// dst[i, :] = src[rows[i], :]: the head only needs the rows that produce logits.
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/row_gather.cuh"

namespace ps::cuda {

void gather_rows(const OpContext& ctx, const TensorView& src, std::span<const int32_t> rows, const TensorView& dst) {
  check_tensor("gather_rows", "src", src, src.dtype);
  check_tensor("gather_rows", "dst", dst, src.dtype);
  check_rank("gather_rows", "src", src, 2);
  check_shape("gather_rows", "dst", dst, Shape{static_cast<int64_t>(rows.size()), src.shape[1]});
  for (const int32_t r : rows)
    if (r < 0 || r >= src.shape[0]) fail_runtime("gather_rows: row ", r, " outside ", src.shape.str());
  launch_row_gather(ctx, "gather_rows", src, rows, dst, false);
}

}  // namespace ps::cuda
