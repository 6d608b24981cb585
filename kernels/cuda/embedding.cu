// out[i, :] = table[ids[i], :] (or +=, GPT-2's position embedding). Ids come from requests: they
// are checked on the host (op_checks.cpp) before anything is enqueued.
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/row_gather.cuh"

namespace ps::cuda {

void embedding(const OpContext& ctx, const TensorView& table, std::span<const int32_t> ids,
               const TensorView& out, bool accumulate) {
  launch_row_gather(ctx, "embedding", table, ids, out, accumulate);
}

}  // namespace ps::cuda
