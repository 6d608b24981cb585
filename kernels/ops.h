// The op set: the only way model code computes. Every op takes an OpContext (which backend,
// which stream, how many threads, scratch memory) and tensor views that know their dtype and
// device. Each call dispatches through the backend's op table (backend.h), so the CUDA backend
// fills the same table and model code never changes with the build.
//
// Conventions: activations are row-major [rows, features]; `rows` are tokens (or samples for
// `mlp`). On the CPU every tensor is f32. Ops may write `out` in place of an input where noted.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "kernels/op_context.h"
#include "runtime/core/rope_scaling.h"
#include "runtime/core/tensor.h"

namespace ps::ops {

// ---- embeddings and elementwise ------------------------------------------------------------
// out[i, :] = table[ids[i], :] (or += when accumulate). ids are checked against the table.
void embedding(const OpContext& ctx, const TensorView& table, std::span<const int32_t> ids,
               const TensorView& out, bool accumulate = false);
// out = a + b (out may alias a or b).
void add(const OpContext& ctx, const TensorView& a, const TensorView& b, const TensorView& out);
// x = gelu_tanh(x), in place (GPT-2's "gelu_new": 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))).
void gelu_tanh(const OpContext& ctx, const TensorView& x);
// x = max(x, 0), in place.
void relu(const OpContext& ctx, const TensorView& x);
// x = gelu(x) with the exact erf form (torch's nn.GELU()), in place.
void gelu_erf(const OpContext& ctx, const TensorView& x);
// x = x * sigmoid(x), in place.
void silu(const OpContext& ctx, const TensorView& x);
// x = tanh(x), in place.
void tanh_act(const OpContext& ctx, const TensorView& x);
// out = silu(gate) * up (out may alias gate).
void silu_mul(const OpContext& ctx, const TensorView& gate, const TensorView& up, const TensorView& out);

// dst = src converted to dst's dtype (f32, f16, bf16; round to nearest even), same element count.
// One side may be host memory (device cpu) while the other is on the context's device: a copy
// from or to host memory has completed (or its source is staged) when copy returns; a copy
// between device tensors is asynchronous on ctx.stream. The CPU converts on the host.
void copy(const OpContext& ctx, const TensorView& src, const TensorView& dst);
// dst[i, :] = src[rows[i], :]: picks the rows that need logits before the head.
void gather_rows(const OpContext& ctx, const TensorView& src, std::span<const int32_t> rows, const TensorView& dst);
// dst[n, k] = src[n, col0 : col0 + k]: splits a fused projection (GPT-2's c_attn q|k|v) into
// contiguous parts.
void copy_columns(const OpContext& ctx, const TensorView& src, int64_t col0, const TensorView& dst);

// ---- normalisation -------------------------------------------------------------------------
// Per row: (x - mean) / sqrt(var + eps) * gamma + beta. out may alias x.
void layer_norm(const OpContext& ctx, const TensorView& x, const TensorView& gamma,
                const TensorView& beta, float eps, const TensorView& out);
// Per row: x / sqrt(mean(x^2) + eps) * weight. out may alias x.
void rms_norm(const OpContext& ctx, const TensorView& x, const TensorView& weight, float eps,
              const TensorView& out);

// ---- linear --------------------------------------------------------------------------------
// How a weight matrix is stored: HF nn.Linear keeps [out, in] (y = x W^T + b); GPT-2's Conv1D
// keeps [in, out] (y = x W + b).
enum class WeightLayout : uint8_t { OutIn, InOut };
// out[n, out_features] = x[n, in_features] * W (+ bias when bias is non-empty). out != x.
void linear(const OpContext& ctx, const TensorView& x, const TensorView& weight, WeightLayout layout,
            const TensorView& bias, const TensorView& out);

// ---- rotary position embedding -------------------------------------------------------------
// inv_freq[i] = 1 / theta^(2i/rotary_dim), i < rotary_dim/2, then scaled as HF's
// _compute_{linear,llama3}_parameters do. Pure function; computed once per model.
std::vector<float> rope_inv_freq(double theta, int64_t rotary_dim, const RopeScaling& scaling);
// Rotate-half RoPE in place on x[n, heads, head_dim] at positions[n] (one per row), rotating the
// first 2*inv_freq.size() dims of each head: x1' = x1 cos - x2 sin, x2' = x2 cos + x1 sin, where
// x1/x2 are the two halves. Angles are computed in double then rounded, as positions grow large.
void rope(const OpContext& ctx, const TensorView& x, std::span<const int32_t> positions,
          std::span<const float> inv_freq);

// ---- KV cache and attention ----------------------------------------------------------------
// One layer's cache: k and v are [slots, max_ctx, kv_heads, head_dim]. A sequence owns a slot;
// its token at position p lives at [slot, p].
struct KvLayerView {
  TensorView k, v;
};
// Writes k[n, kv_heads*head_dim] and v[...] of each row into the cache at (slots[i], positions[i]).
void kv_store(const OpContext& ctx, const KvLayerView& cache, const TensorView& k, const TensorView& v,
              std::span<const int32_t> slots, std::span<const int32_t> positions);
// Causal attention of each row over its own slot's cache: row i (slot s, position p) attends to
// cache positions 0..p of slot s. q is [n, heads, head_dim]; out is [n, heads, head_dim].
// Grouped-query: head h reads kv head h / (heads / kv_heads). This one op serves prefill (many
// rows per slot), decode (one row per slot) and ragged mixes of both; store the rows' K/V first.
void attention(const OpContext& ctx, const TensorView& q, const KvLayerView& cache,
               std::span<const int32_t> slots, std::span<const int32_t> positions, float scale,
               const TensorView& out);

// ---- softmax -------------------------------------------------------------------------------
void softmax(const OpContext& ctx, const TensorView& x);      // per row, in place
void log_softmax(const OpContext& ctx, const TensorView& x);  // per row, in place

// ---- sampling ------------------------------------------------------------------------------
// Sampling settings of one request (DESIGN.md request line). temperature <= 0 means greedy.
struct SamplingParams {
  float temperature = 0.0f;
  int32_t top_k = 0;     // 0 = off
  float top_p = 1.0f;    // 1 = off
  uint64_t seed = 0;
};
// The random stream is keyed by (seed, request id, position) so a sampled token depends on
// nothing else: not the stage split, the micro-batching, the thread count or the backend.
struct SampleKey {
  uint64_t seed = 0;
  uint64_t request_hash = 0;  // sample_request_hash(id)
  int64_t position = 0;       // position of the token being produced
};
uint64_t sample_request_hash(std::string_view request_id);  // FNV-1a 64
// A uniform double in [0, 1) from the key (splitmix64 over the three parts); the same on every backend.
double sample_uniform(const SampleKey& key);
// Picks one token per row of logits[n, vocab]. Greedy picks the lowest index among equal maxima.
// Otherwise: logits / temperature, keep the top_k largest, keep the smallest prefix of the sorted
// distribution whose mass reaches top_p, renormalise, and invert the CDF at sample_uniform(key).
void sample(const OpContext& ctx, const TensorView& logits, std::span<const SamplingParams> params,
            std::span<const SampleKey> keys, std::span<int32_t> out_tokens);
// The k largest log-probabilities of one row of logits, as (token, logprob), largest first.
std::vector<std::pair<int32_t, float>> top_logprobs(const OpContext& ctx, std::span<const float> logits, int k);

}  // namespace ps::ops
