// The CUDA backend's ops, one per file in kernels/cuda/ (kernel and launcher together).
// Signatures and semantics are those of kernels/common/op_list.h; cuda_backend.cu puts them in the
// OpTable.
//
// Tensors are device views (cuda:N, N the current device) in f32, f16 or bf16; all tensors of one
// call share one dtype, and every kernel computes and accumulates in f32, rounding once on store.
// Host spans (token ids, slots, positions, RoPE frequencies) are validated on the host by the
// same checks as the CPU ops' (op_checks.cpp), then uploaded into stream-ordered scratch
// (device_buffer.h).
// Everything runs on ctx.stream and returns without waiting for the device, except `sample`,
// whose tokens land in host memory, and `copy` with a host side: both wait for their stream.
#pragma once

#include "kernels/common/op_list.h"
#include "kernels/common/op_types.h"

namespace ps {
struct MemoryTable;
}  // namespace ps

namespace ps::cuda {

// Every op of kernels/common/op_list.h, with its signature from op_types.h. Unchecked: ops.h runs
// each op's argument checks (op_checks.h, with check_tensor of cuda_args.h for every tensor)
// before it calls these through the OpTable, which cuda_backend.cu fills; nothing else calls them.
PS_OP_LIST(PS_OP_DECLARE)

// Device and pinned host memory, streams and events (cuda_memory.cpp).
MemoryTable cuda_memory_table();

}  // namespace ps::cuda
