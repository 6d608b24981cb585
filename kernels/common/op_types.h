// The signature of each op, written once: op_list.h names each op's signature, and everything
// made from the list (the OpTable, the op checks, the ops:: entry points, both backends'
// declarations) has exactly that type, so a signature cannot drift between them. Ops are
// documented in op_list.h; several ops share a signature (Unary, Binary).
#pragma once

#include <cstdint>
#include <span>

#include "kernels/common/op_context.h"
#include "kernels/common/op_params.h"
#include "runtime/core/tensor.h"

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
