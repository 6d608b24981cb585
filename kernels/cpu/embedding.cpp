// out[i, :] = table[ids[i], :] (or +=): GPT-2 adds its position embedding this way.
#include <cstring>

#include "kernels/cpu/grain.h"
#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

void embedding(const OpContext& ctx, const TensorView& table, std::span<const int32_t> ids,
               const TensorView& out, bool accumulate) {
  const int64_t hidden = table.dim(1);
  const auto n = static_cast<int64_t>(ids.size());
  const float* t = table.f32();
  float* o = out.f32();
  parallel_for(ctx.pool, n, grain_for(hidden), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const float* src = t + ids[static_cast<size_t>(i)] * hidden;
      float* dst = o + i * hidden;
      if (accumulate) {
        for (int64_t j = 0; j < hidden; ++j) dst[j] += src[j];
      } else {
        std::memcpy(dst, src, static_cast<size_t>(hidden) * sizeof(float));
      }
    }
  });
}

}  // namespace ps::cpu
