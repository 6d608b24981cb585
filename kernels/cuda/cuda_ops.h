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

#include <cstdint>
#include <span>

#include "kernels/ops.h"

namespace ps {
struct MemoryTable;
}  // namespace ps

namespace ps::cuda {

void embedding(const OpContext& ctx, const TensorView& table, std::span<const int32_t> ids,
               const TensorView& out, bool accumulate);
void add(const OpContext& ctx, const TensorView& a, const TensorView& b, const TensorView& out);
void gelu_tanh(const OpContext& ctx, const TensorView& x);
void relu(const OpContext& ctx, const TensorView& x);
void gelu_erf(const OpContext& ctx, const TensorView& x);
void silu(const OpContext& ctx, const TensorView& x);
void tanh_act(const OpContext& ctx, const TensorView& x);
void silu_mul(const OpContext& ctx, const TensorView& gate, const TensorView& up, const TensorView& out);
// Converts between dtypes (the one op whose tensors may differ in dtype); one side may be host memory.
void copy(const OpContext& ctx, const TensorView& src, const TensorView& dst);
void gather_rows(const OpContext& ctx, const TensorView& src, std::span<const int32_t> rows, const TensorView& dst);
void copy_columns(const OpContext& ctx, const TensorView& src, int64_t col0, const TensorView& dst);
void layer_norm(const OpContext& ctx, const TensorView& x, const TensorView& gamma, const TensorView& beta,
                float eps, const TensorView& out);
void rms_norm(const OpContext& ctx, const TensorView& x, const TensorView& weight, float eps,
              const TensorView& out);
void linear(const OpContext& ctx, const TensorView& x, const TensorView& weight, ops::WeightLayout layout,
            const TensorView& bias, const TensorView& out);
void rope(const OpContext& ctx, const TensorView& x, std::span<const int32_t> positions,
          std::span<const float> inv_freq);
void kv_store(const OpContext& ctx, const ops::KvLayerView& cache, const TensorView& k, const TensorView& v,
              std::span<const int32_t> slots, std::span<const int32_t> positions);
void attention(const OpContext& ctx, const TensorView& q, const ops::KvLayerView& cache,
               std::span<const int32_t> slots, std::span<const int32_t> positions, float scale,
               const TensorView& out);
void softmax(const OpContext& ctx, const TensorView& x);
void log_softmax(const OpContext& ctx, const TensorView& x);
void sample(const OpContext& ctx, const TensorView& logits, std::span<const ops::SamplingParams> params,
            std::span<const ops::SampleKey> keys, std::span<int32_t> out_tokens);

// Device and pinned host memory, streams and events (cuda_memory.cpp).
MemoryTable cuda_memory_table();

}  // namespace ps::cuda
