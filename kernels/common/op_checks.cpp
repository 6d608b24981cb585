// Each op's argument checks (op_checks.h), in the order its kernels used to run them: the
// backend's rule for every tensor first, then ranks, shapes, counts and ranges, so a call with
// several faults reports the same one on every backend.
#include "kernels/common/op_checks.h"

#include <cmath>
#include <cstdint>

#include "kernels/common/backend.h"
#include "runtime/core/error.h"

namespace ps::op_check {

namespace {

// The backend's rule (Backend::check_tensor) for the tensors of one call; `dtype` is the call's
// first tensor's, which a backend may require the others to share.
struct TensorRule {
  const Backend* backend;
  const char* op;
  DType dtype;

  void operator()(const char* name, const TensorView& t) const {
    if (backend != nullptr && backend->check_tensor != nullptr) backend->check_tensor(op, name, t, dtype);
  }
};

TensorRule tensor_rule(const OpContext& ctx, const char* op, DType dtype) { return {ctx.backend, op, dtype}; }

void check_rank(const char* op, const char* name, const TensorView& t, int rank) {
  if (t.rank() != rank) fail_runtime(op, ": ", name, " has shape ", t.shape.str(), ", expected rank ", rank);
}

void check_shape(const char* op, const char* name, const TensorView& t, const Shape& expected) {
  if (!(t.shape == expected))
    fail_runtime(op, ": ", name, " has shape ", t.shape.str(), ", expected ", expected.str());
}

// A tensor of rows over its last dimension (the row-wise ops).
void check_has_rows(const char* op, const TensorView& x) {
  if (x.rank() < 1) fail_runtime(op, ": x has shape ", x.shape.str(), ", expected [rows, features]");
}

// A span argument with one entry per row.
void check_count(const char* op, const char* name, size_t got, int64_t expected) {
  if (static_cast<int64_t>(got) != expected)
    fail_runtime(op, ": ", name, " has ", got, " entries, expected one per row (", expected, ")");
}

// Whether the byte ranges of two views intersect (for ops whose output may not alias an input).
bool views_overlap(const TensorView& a, const TensorView& b) {
  if (!a.data || !b.data) return false;
  const auto a0 = reinterpret_cast<uintptr_t>(a.data), b0 = reinterpret_cast<uintptr_t>(b.data);
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

// Every row's (slot, position) inside a cache of n_slots slots of max_ctx positions.
void check_cache_rows(const char* op, std::span<const int32_t> slots, std::span<const int32_t> positions,
                      int64_t n_slots, int64_t max_ctx) {
  for (size_t i = 0; i < slots.size(); ++i) {
    const int32_t s = slots[i], p = positions[i];
    if (s < 0 || s >= n_slots || p < 0 || p >= max_ctx)
      fail_runtime(op, ": row ", i, " has slot ", s, " position ", p, ", outside the cache (", n_slots,
                   " slots of ", max_ctx, " positions)");
  }
}

// In-place elementwise ops.
void unary(const OpContext& ctx, const char* op, const TensorView& x) { tensor_rule(ctx, op, x.dtype)("x", x); }

// out = f(a, b) over equal shapes.
void binary(const OpContext& ctx, const char* op, const char* a_name, const TensorView& a, const char* b_name,
            const TensorView& b, const TensorView& out) {
  const TensorRule tensor = tensor_rule(ctx, op, a.dtype);
  tensor(a_name, a);
  tensor(b_name, b);
  tensor("out", out);
  check_shape(op, b_name, b, a.shape);
  check_shape(op, "out", out, a.shape);
}

// softmax, log_softmax: in place over the last dimension.
void row_wise(const OpContext& ctx, const char* op, const TensorView& x) {
  tensor_rule(ctx, op, x.dtype)("x", x);
  check_has_rows(op, x);
}

void check_sampling(const ops::SamplingParams& p, int64_t row) {
  if (std::isnan(p.temperature) || std::isnan(p.top_p) || p.top_k < 0)
    fail_runtime("sample: row ", row, " has invalid settings (temperature ", p.temperature, ", top_k ", p.top_k,
                 ", top_p ", p.top_p, ")");
}

}  // namespace

void embedding(const OpContext& ctx, const TensorView& table, std::span<const int32_t> ids, const TensorView& out,
               bool) {
  const TensorRule tensor = tensor_rule(ctx, "embedding", table.dtype);
  tensor("table", table);
  tensor("out", out);
  check_rank("embedding", "table", table, 2);
  const int64_t vocab = table.dim(0), hidden = table.dim(1);
  const auto n = static_cast<int64_t>(ids.size());
  check_shape("embedding", "out", out, Shape{n, hidden});
  // Ids come from requests: the drivers validate them first, this is the last line of defence.
  for (int64_t i = 0; i < n; ++i) {
    if (ids[static_cast<size_t>(i)] < 0 || ids[static_cast<size_t>(i)] >= vocab)
      fail_input("embedding: token id ", ids[static_cast<size_t>(i)], " (row ", i,
                 ") is outside the vocabulary [0, ", vocab, ")");
  }
}

void add(const OpContext& ctx, const TensorView& a, const TensorView& b, const TensorView& out) {
  binary(ctx, "add", "a", a, "b", b, out);
}

void gelu_tanh(const OpContext& ctx, const TensorView& x) { unary(ctx, "gelu_tanh", x); }
void relu(const OpContext& ctx, const TensorView& x) { unary(ctx, "relu", x); }
void gelu_erf(const OpContext& ctx, const TensorView& x) { unary(ctx, "gelu_erf", x); }
void silu(const OpContext& ctx, const TensorView& x) { unary(ctx, "silu", x); }
void tanh_act(const OpContext& ctx, const TensorView& x) { unary(ctx, "tanh", x); }

void silu_mul(const OpContext& ctx, const TensorView& gate, const TensorView& up, const TensorView& out) {
  binary(ctx, "silu_mul", "gate", gate, "up", up, out);
}

// The two sides may differ in dtype and device (each backend checks which sides it can reach).
void copy(const OpContext&, const TensorView& src, const TensorView& dst) {
  const int64_t n = src.numel();
  if (dst.numel() != n)
    fail_runtime("copy: src ", src.shape.str(), " has ", n, " elements, dst ", dst.shape.str(), " has ", dst.numel());
  // Copying a tensor onto itself is a no-op; any other overlap would read elements already
  // overwritten (or, across dtypes, half-overwritten). Memory of two devices never overlaps.
  const bool onto_itself = src.data == dst.data && src.dtype == dst.dtype;
  if (n > 0 && !onto_itself && src.device == dst.device && views_overlap(src, dst))
    fail_runtime("copy: src (", dtype_name(src.dtype), " ", src.shape.str(), ") and dst (", dtype_name(dst.dtype),
                 " ", dst.shape.str(), ") overlap in memory");
}

void gather_rows(const OpContext& ctx, const TensorView& src, std::span<const int32_t> rows, const TensorView& dst) {
  const TensorRule tensor = tensor_rule(ctx, "gather_rows", src.dtype);
  tensor("src", src);
  tensor("dst", dst);
  check_rank("gather_rows", "src", src, 2);
  check_shape("gather_rows", "dst", dst, Shape{static_cast<int64_t>(rows.size()), src.shape[1]});
  for (const int32_t r : rows)
    if (r < 0 || r >= src.shape[0]) fail_runtime("gather_rows: row ", r, " outside ", src.shape.str());
}

void copy_columns(const OpContext& ctx, const TensorView& src, int64_t col0, const TensorView& dst) {
  const TensorRule tensor = tensor_rule(ctx, "copy_columns", src.dtype);
  tensor("src", src);
  tensor("dst", dst);
  check_rank("copy_columns", "src", src, 2);
  check_rank("copy_columns", "dst", dst, 2);
  const int64_t rows = src.shape[0], width = src.shape[1], k = dst.shape[1];
  if (dst.shape[0] != rows || col0 < 0 || col0 + k > width)
    fail_runtime("copy_columns: columns ", col0, "+", k, " of ", src.shape.str(), " into ", dst.shape.str());
}

void layer_norm(const OpContext& ctx, const TensorView& x, const TensorView& gamma, const TensorView& beta, float,
                const TensorView& out) {
  const TensorRule tensor = tensor_rule(ctx, "layer_norm", x.dtype);
  tensor("x", x);
  tensor("gamma", gamma);
  tensor("beta", beta);
  tensor("out", out);
  check_has_rows("layer_norm", x);
  const int64_t d = x.dim(x.rank() - 1);
  check_shape("layer_norm", "gamma", gamma, Shape{d});
  check_shape("layer_norm", "beta", beta, Shape{d});
  check_shape("layer_norm", "out", out, x.shape);
}

void rms_norm(const OpContext& ctx, const TensorView& x, const TensorView& weight, float, const TensorView& out) {
  const TensorRule tensor = tensor_rule(ctx, "rms_norm", x.dtype);
  tensor("x", x);
  tensor("weight", weight);
  tensor("out", out);
  check_has_rows("rms_norm", x);
  const int64_t d = x.dim(x.rank() - 1);
  check_shape("rms_norm", "weight", weight, Shape{d});
  check_shape("rms_norm", "out", out, x.shape);
}

void linear(const OpContext& ctx, const TensorView& x, const TensorView& weight, ops::WeightLayout layout,
            const TensorView& bias, const TensorView& out) {
  const TensorRule tensor = tensor_rule(ctx, "linear", x.dtype);
  tensor("x", x);
  tensor("weight", weight);
  tensor("out", out);
  check_rank("linear", "x", x, 2);
  check_rank("linear", "weight", weight, 2);
  const bool out_in = layout == ops::WeightLayout::OutIn;
  const int64_t n = x.dim(0), in = x.dim(1);
  const int64_t out_f = out_in ? weight.dim(0) : weight.dim(1);
  const int64_t w_in = out_in ? weight.dim(1) : weight.dim(0);
  if (w_in != in)
    fail_runtime("linear: weight ", weight.shape.str(), (out_in ? " [out, in]" : " [in, out]"),
                 " does not take ", in, " input features (x is ", x.shape.str(), ")");
  check_shape("linear", "out", out, Shape{n, out_f});
  if (!bias.empty()) {
    tensor("bias", bias);
    check_shape("linear", "bias", bias, Shape{out_f});
  }
  if (views_overlap(out, x)) fail_runtime("linear: out may not alias x");
}

void rope(const OpContext& ctx, const TensorView& x, std::span<const int32_t> positions,
          std::span<const float> inv_freq) {
  tensor_rule(ctx, "rope", x.dtype)("x", x);
  check_rank("rope", "x", x, 3);
  const int64_t n = x.dim(0), head_dim = x.dim(2);
  check_count("rope", "positions", positions.size(), n);
  const auto half = static_cast<int64_t>(inv_freq.size());
  if (2 * half > head_dim)
    fail_runtime("rope: ", inv_freq.size(), " frequencies rotate ", 2 * half, " dims, more than head_dim ", head_dim);
  for (int64_t i = 0; i < n; ++i)
    if (positions[static_cast<size_t>(i)] < 0)
      fail_runtime("rope: negative position ", positions[static_cast<size_t>(i)], " at row ", i);
}

void kv_store(const OpContext& ctx, const ops::KvLayerView& cache, const TensorView& k, const TensorView& v,
              std::span<const int32_t> slots, std::span<const int32_t> positions) {
  const TensorRule tensor = tensor_rule(ctx, "kv_store", cache.k.dtype);
  tensor("cache.k", cache.k);
  tensor("cache.v", cache.v);
  tensor("k", k);
  tensor("v", v);
  check_rank("kv_store", "cache.k", cache.k, 4);
  check_shape("kv_store", "cache.v", cache.v, cache.k.shape);
  const int64_t row = cache.k.dim(2) * cache.k.dim(3);  // kv_heads * head_dim
  const int64_t n = k.rank() >= 1 ? k.dim(0) : 0;
  if (k.rank() < 2 || k.numel() != n * row)
    fail_runtime("kv_store: k has shape ", k.shape.str(), ", expected [n, ", row, "] for cache ",
                 cache.k.shape.str());
  check_shape("kv_store", "v", v, k.shape);
  check_count("kv_store", "slots", slots.size(), n);
  check_count("kv_store", "positions", positions.size(), n);
  check_cache_rows("kv_store", slots, positions, cache.k.dim(0), cache.k.dim(1));
}

void attention(const OpContext& ctx, const TensorView& q, const ops::KvLayerView& cache,
               std::span<const int32_t> slots, std::span<const int32_t> positions, float, const TensorView& out) {
  const TensorRule tensor = tensor_rule(ctx, "attention", q.dtype);
  tensor("q", q);
  tensor("cache.k", cache.k);
  tensor("cache.v", cache.v);
  tensor("out", out);
  check_rank("attention", "q", q, 3);
  check_rank("attention", "cache.k", cache.k, 4);
  check_shape("attention", "cache.v", cache.v, cache.k.shape);
  check_shape("attention", "out", out, q.shape);
  const int64_t n = q.dim(0), heads = q.dim(1), head_dim = q.dim(2), kv_heads = cache.k.dim(2);
  if (cache.k.dim(3) != head_dim)
    fail_runtime("attention: q head_dim ", head_dim, " differs from the cache's ", cache.k.shape.str());
  if (kv_heads <= 0 || heads % kv_heads != 0)
    fail_runtime("attention: ", heads, " heads cannot share ", kv_heads, " kv heads");
  check_count("attention", "slots", slots.size(), n);
  check_count("attention", "positions", positions.size(), n);
  check_cache_rows("attention", slots, positions, cache.k.dim(0), cache.k.dim(1));
}

void softmax(const OpContext& ctx, const TensorView& x) { row_wise(ctx, "softmax", x); }
void log_softmax(const OpContext& ctx, const TensorView& x) { row_wise(ctx, "log_softmax", x); }

void sample(const OpContext& ctx, const TensorView& logits, std::span<const ops::SamplingParams> params,
            std::span<const ops::SampleKey> keys, std::span<int32_t> out_tokens) {
  tensor_rule(ctx, "sample", logits.dtype)("logits", logits);
  check_rank("sample", "logits", logits, 2);
  const int64_t n = logits.dim(0), vocab = logits.dim(1);
  check_count("sample", "params", params.size(), n);
  check_count("sample", "keys", keys.size(), n);
  check_count("sample", "out_tokens", out_tokens.size(), n);
  if (n == 0) return;
  if (vocab <= 0 || vocab > INT32_MAX) fail_runtime("sample: vocabulary of ", vocab, " tokens");
  for (int64_t i = 0; i < n; ++i) check_sampling(params[static_cast<size_t>(i)], i);
}

}  // namespace ps::op_check
