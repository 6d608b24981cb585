// The CPU backend's ops (OpenBLAS + the ThreadPool), one per file in kernels/cpu/. Signatures and
// semantics are those of kernels/ops.h; cpu_backend.cpp puts them in the OpTable. Every tensor is
// an f32 host view (except copy's, which may be f16 or bf16); a wrong dtype, device or shape is a
// Runtime error naming the op and tensor.
//
// Threading: row-wise ops split rows over ctx.pool; attention splits (row, head) pairs by cost;
// linear runs on OpenBLAS's own threads (blas_threads.h). Each output element is computed by
// the same instruction sequence whatever the thread count, so results are bit-identical with 1
// or N threads.
#pragma once

#include "kernels/op_types.h"

namespace ps {
struct MemoryTable;
}  // namespace ps

namespace ps::cpu {

// Declared through op_types.h, the one place the signatures are written.
op_type::Embedding embedding;
op_type::Binary add;
op_type::Unary gelu_tanh;
op_type::Unary relu;
op_type::Unary gelu_erf;
op_type::Unary silu;
op_type::Unary tanh_act;
op_type::Binary silu_mul;
op_type::Copy copy;
op_type::GatherRows gather_rows;
op_type::CopyColumns copy_columns;
op_type::LayerNorm layer_norm;
op_type::RmsNorm rms_norm;
op_type::Linear linear;
op_type::Rope rope;
op_type::KvStore kv_store;
op_type::Attention attention;
op_type::Unary softmax;
op_type::Unary log_softmax;
op_type::Sample sample;

// Memory, streams and events (cpu_memory.cpp): aligned host memory, no streams, events that are
// complete at once.
MemoryTable cpu_memory_table();

}  // namespace ps::cpu
