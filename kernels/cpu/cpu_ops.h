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

#include <cstdint>
#include <span>

#include "kernels/ops.h"

namespace ps {
struct MemoryTable;
}  // namespace ps

namespace ps::cpu {

void embedding(const OpContext& ctx, const TensorView& table, std::span<const int32_t> ids,
               const TensorView& out, bool accumulate);
void add(const OpContext& ctx, const TensorView& a, const TensorView& b, const TensorView& out);
void gelu_tanh(const OpContext& ctx, const TensorView& x);
void relu(const OpContext& ctx, const TensorView& x);
void gelu_erf(const OpContext& ctx, const TensorView& x);
void silu(const OpContext& ctx, const TensorView& x);
void tanh_act(const OpContext& ctx, const TensorView& x);
void silu_mul(const OpContext& ctx, const TensorView& gate, const TensorView& up, const TensorView& out);
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

// Memory, streams and events (cpu_memory.cpp): aligned host memory, no streams, events that are
// complete at once.
MemoryTable cpu_memory_table();

}  // namespace ps::cpu
