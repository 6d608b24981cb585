// dst[i, :] = src[rows[i], :]: the head only needs the rows that produce logits.
#include <cstring>

#include "kernels/cpu/cpu_check.h"
#include "kernels/cpu/cpu_ops.h"

namespace ps::cpu {

void gather_rows(const OpContext& ctx, const TensorView& src, std::span<const int32_t> rows, const TensorView& dst) {
  check_f32("gather_rows", "src", src);
  check_f32("gather_rows", "dst", dst);
  check_rank("gather_rows", "src", src, 2);
  check_shape("gather_rows", "dst", dst, Shape{static_cast<int64_t>(rows.size()), src.shape[1]});
  const int64_t width = src.shape[1];
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= src.shape[0])
      fail_runtime("gather_rows: row ", rows[i], " outside ", src.shape.str());
    std::memcpy(dst.f32() + static_cast<int64_t>(i) * width, src.f32() + static_cast<int64_t>(rows[i]) * width,
                static_cast<size_t>(width) * sizeof(float));
  }
}

}  // namespace ps::cpu
