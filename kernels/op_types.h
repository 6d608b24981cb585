// The type of each op of ops.h, written once: the OpTable (backend.h) holds pointers to them and
// each backend declares its ops with them (cpu/cpu_ops.h, cuda/cuda_ops.h), so a signature cannot
// drift between the table and a backend. Meanings are documented in ops.h.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/ops.h"

namespace ps::op_type {

using Embedding = void(const OpContext&, const TensorView& table, std::span<const int32_t> ids, const TensorView& out,
                       bool accumulate);
using Unary = void(const OpContext&, const TensorView& x);  // in place
using Binary = void(const OpContext&, const TensorView& a, const TensorView& b, const TensorView& out);
using Copy = void(const OpContext&, const TensorView& src, const TensorView& dst);
using GatherRows = void(const OpContext&, const TensorView& src, std::span<const int32_t> rows, const TensorView& dst);
using CopyColumns = void(const OpContext&, const TensorView& src, int64_t col0, const TensorView& dst);
using LayerNorm = void(const OpContext&, const TensorView& x, const TensorView& gamma, const TensorView& beta,
                       float eps, const TensorView& out);
using RmsNorm = void(const OpContext&, const TensorView& x, const TensorView& weight, float eps, const TensorView& out);
using Linear = void(const OpContext&, const TensorView& x, const TensorView& weight, ops::WeightLayout layout,
                    const TensorView& bias, const TensorView& out);
using Rope = void(const OpContext&, const TensorView& x, std::span<const int32_t> positions,
                  std::span<const float> inv_freq);
using KvStore = void(const OpContext&, const ops::KvLayerView& cache, const TensorView& k, const TensorView& v,
                     std::span<const int32_t> slots, std::span<const int32_t> positions);
using Attention = void(const OpContext&, const TensorView& q, const ops::KvLayerView& cache,
                       std::span<const int32_t> slots, std::span<const int32_t> positions, float scale,
                       const TensorView& out);
using Sample = void(const OpContext&, const TensorView& logits, std::span<const ops::SamplingParams> params,
                    std::span<const ops::SampleKey> keys, std::span<int32_t> out_tokens);

}  // namespace ps::op_type
