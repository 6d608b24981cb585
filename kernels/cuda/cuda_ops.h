// The CUDA backend's ops, one per file in kernels/cuda/ (kernel and launcher together).
// Signatures and semantics are those of kernels/ops.h; cuda_backend.cu puts them in the OpTable.
//
// Tensors are device views (cuda:N, N the current device) in f32, f16 or bf16; all tensors of one
// call share one dtype, and every kernel computes and accumulates in f32, rounding once on store.
// Host spans (token ids, slots, positions, RoPE frequencies) are validated on the host exactly
// as the CPU ops validate them, then uploaded into stream-ordered scratch (device_buffer.h).
// Everything runs on ctx.stream and returns without waiting for the device, except `sample`,
// whose tokens land in host memory, and `copy` with a host side: both wait for their stream.
#pragma once

#include "kernels/op_types.h"

namespace ps {
struct MemoryTable;
}  // namespace ps

namespace ps::cuda {

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

// Device and pinned host memory, streams and events (cuda_memory.cpp).
MemoryTable cuda_memory_table();

}  // namespace ps::cuda
