// out[i, :] = table[ids[i], :] (or +=, GPT-2's position embedding). Ids come from requests: they
// are checked on the host, with the CPU op's message, before anything is enqueued.
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/row_gather.cuh"

namespace ps::cuda {

void embedding(const OpContext& ctx, const TensorView& table, std::span<const int32_t> ids,
               const TensorView& out, bool accumulate) {
  check_tensor("embedding", "table", table, table.dtype);
  check_tensor("embedding", "out", out, table.dtype);
  check_rank("embedding", "table", table, 2);
  const int64_t vocab = table.dim(0), hidden = table.dim(1);
  const auto n = static_cast<int64_t>(ids.size());
  check_shape("embedding", "out", out, Shape{n, hidden});
  for (int64_t i = 0; i < n; ++i) {
    if (ids[static_cast<size_t>(i)] < 0 || ids[static_cast<size_t>(i)] >= vocab)
      fail_input("embedding: token id ", ids[static_cast<size_t>(i)], " (row ", i,
                 ") is outside the vocabulary [0, ", vocab, ")");
  }
  launch_row_gather(ctx, "embedding", table, ids, out, accumulate);
}

}  // namespace ps::cuda
