// The CPU backend's ops (OpenBLAS + the ThreadPool), one per file in kernels/cpu/. Signatures and
// semantics are those of kernels/common/op_list.h; cpu_backend.cpp puts them in the OpTable. Every
// tensor is an f32 host view (except copy's, which may be f16 or bf16): check_tensor
// (cpu_check.h) is the backend's rule that op_checks.cpp applies to each tensor.
//
// Threading: row-wise ops split rows over ctx.pool; attention splits (row, head) pairs by cost;
// linear runs on OpenBLAS's own threads (blas_threads.h). Each output element is computed by
// the same instruction sequence whatever the thread count, so results are bit-identical with 1
// or N threads.
#pragma once

#include "kernels/common/op_list.h"
#include "kernels/common/op_types.h"

namespace ps {
struct MemoryTable;
}  // namespace ps

namespace ps::cpu {

// Every op of kernels/common/op_list.h, with its signature from op_types.h. Unchecked: ops.h runs
// each op's argument checks (op_checks.h) before it calls these through the OpTable, which
// cpu_backend.cpp fills; nothing else calls them.
PS_OP_LIST(PS_OP_DECLARE)

// Memory, streams and events (cpu_memory.cpp): aligned host memory, no streams, events that are
// complete at once.
MemoryTable cpu_memory_table();

}  // namespace ps::cpu
