// dst[i, :] = src[rows[i], :]: the head only needs the rows that produce logits.
#include <cstring>

#include "kernels/cpu/cpu_ops.h"

namespace ps::cpu {

void gather_rows(const OpContext& ctx, const TensorView& src, std::span<const int32_t> rows, const TensorView& dst) {
  const int64_t width = src.shape[1];
  for (size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(dst.f32() + static_cast<int64_t>(i) * width, src.f32() + static_cast<int64_t>(rows[i]) * width,
                static_cast<size_t>(width) * sizeof(float));
  }
}

}  // namespace ps::cpu
