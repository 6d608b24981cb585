// dst[n, k] = src[n, col0 : col0 + k]: splits GPT-2's fused q|k|v projection into contiguous
// tensors for the RoPE/KV-cache/attention ops, which take dense rows.
#include <cstring>

#include "kernels/cpu/cpu_check.h"
#include "kernels/cpu/cpu_ops.h"

namespace ps::cpu {

void copy_columns(const OpContext& ctx, const TensorView& src, int64_t col0, const TensorView& dst) {
  check_f32("copy_columns", "src", src);
  check_f32("copy_columns", "dst", dst);
  check_rank("copy_columns", "src", src, 2);
  check_rank("copy_columns", "dst", dst, 2);
  const int64_t rows = src.shape[0], width = src.shape[1], k = dst.shape[1];
  if (dst.shape[0] != rows || col0 < 0 || col0 + k > width)
    fail_runtime("copy_columns: columns ", col0, "+", k, " of ", src.shape.str(), " into ", dst.shape.str());
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(dst.f32() + r * k, src.f32() + r * width + col0, static_cast<size_t>(k) * sizeof(float));
}

}  // namespace ps::cpu
