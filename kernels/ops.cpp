// ops.h's entry points: each forwards to the context's backend through its OpTable. An op a
// backend has not filled in is a Runtime error naming both, never a null call.
#include "kernels/ops.h"

#include "kernels/backend.h"

namespace ps::ops {

namespace {

template <class Fn>
Fn entry(const OpContext& ctx, Fn OpTable::*slot, const char* op) {
  PS_CHECK(ctx.backend != nullptr, "op ", op, " called with no backend in its OpContext");
  Fn fn = ctx.backend->ops.*slot;
  if (fn == nullptr) fail_runtime("op ", op, " is not implemented on backend ", ctx.backend->name);
  return fn;
}

}  // namespace

void embedding(const OpContext& ctx, const TensorView& table, std::span<const int32_t> ids,
               const TensorView& out, bool accumulate) {
  entry(ctx, &OpTable::embedding, "embedding")(ctx, table, ids, out, accumulate);
}

void add(const OpContext& ctx, const TensorView& a, const TensorView& b, const TensorView& out) {
  entry(ctx, &OpTable::add, "add")(ctx, a, b, out);
}

void gelu_tanh(const OpContext& ctx, const TensorView& x) { entry(ctx, &OpTable::gelu_tanh, "gelu_tanh")(ctx, x); }

void relu(const OpContext& ctx, const TensorView& x) { entry(ctx, &OpTable::relu, "relu")(ctx, x); }

void gelu_erf(const OpContext& ctx, const TensorView& x) { entry(ctx, &OpTable::gelu_erf, "gelu_erf")(ctx, x); }

void silu(const OpContext& ctx, const TensorView& x) { entry(ctx, &OpTable::silu, "silu")(ctx, x); }

void tanh_act(const OpContext& ctx, const TensorView& x) { entry(ctx, &OpTable::tanh_act, "tanh_act")(ctx, x); }

void gather_rows(const OpContext& ctx, const TensorView& src, std::span<const int32_t> rows, const TensorView& dst) {
  entry(ctx, &OpTable::gather_rows, "gather_rows")(ctx, src, rows, dst);
}

void copy(const OpContext& ctx, const TensorView& src, const TensorView& dst) {
  entry(ctx, &OpTable::copy, "copy")(ctx, src, dst);
}

void copy_columns(const OpContext& ctx, const TensorView& src, int64_t col0, const TensorView& dst) {
  entry(ctx, &OpTable::copy_columns, "copy_columns")(ctx, src, col0, dst);
}

void silu_mul(const OpContext& ctx, const TensorView& gate, const TensorView& up, const TensorView& out) {
  entry(ctx, &OpTable::silu_mul, "silu_mul")(ctx, gate, up, out);
}

void layer_norm(const OpContext& ctx, const TensorView& x, const TensorView& gamma, const TensorView& beta,
                float eps, const TensorView& out) {
  entry(ctx, &OpTable::layer_norm, "layer_norm")(ctx, x, gamma, beta, eps, out);
}

void rms_norm(const OpContext& ctx, const TensorView& x, const TensorView& weight, float eps,
              const TensorView& out) {
  entry(ctx, &OpTable::rms_norm, "rms_norm")(ctx, x, weight, eps, out);
}

void linear(const OpContext& ctx, const TensorView& x, const TensorView& weight, WeightLayout layout,
            const TensorView& bias, const TensorView& out) {
  entry(ctx, &OpTable::linear, "linear")(ctx, x, weight, layout, bias, out);
}

void rope(const OpContext& ctx, const TensorView& x, std::span<const int32_t> positions,
          std::span<const float> inv_freq) {
  entry(ctx, &OpTable::rope, "rope")(ctx, x, positions, inv_freq);
}

void kv_store(const OpContext& ctx, const KvLayerView& cache, const TensorView& k, const TensorView& v,
              std::span<const int32_t> slots, std::span<const int32_t> positions) {
  entry(ctx, &OpTable::kv_store, "kv_store")(ctx, cache, k, v, slots, positions);
}

void attention(const OpContext& ctx, const TensorView& q, const KvLayerView& cache, std::span<const int32_t> slots,
               std::span<const int32_t> positions, float scale, const TensorView& out) {
  entry(ctx, &OpTable::attention, "attention")(ctx, q, cache, slots, positions, scale, out);
}

void softmax(const OpContext& ctx, const TensorView& x) { entry(ctx, &OpTable::softmax, "softmax")(ctx, x); }

void log_softmax(const OpContext& ctx, const TensorView& x) {
  entry(ctx, &OpTable::log_softmax, "log_softmax")(ctx, x);
}

void sample(const OpContext& ctx, const TensorView& logits, std::span<const SamplingParams> params,
            std::span<const SampleKey> keys, std::span<int32_t> out_tokens) {
  entry(ctx, &OpTable::sample, "sample")(ctx, logits, params, keys, out_tokens);
}

}  // namespace ps::ops
