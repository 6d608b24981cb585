#include "partitioner/cost_model.h"

#include <algorithm>
#include <cmath>

#include "partitioner/saturate.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

double d(int64_t v) { return static_cast<double>(v); }

// Byte counts multiply dims (each up to 2^31) by the workload: they are computed in double, where
// they cannot overflow, and stored saturated at kBytesMax (saturate.h) -- "fits nowhere".

// Elements of the layer's matrices (what GEMMs multiply with); vectors (norms, biases) are noise.
int64_t matrix_params(const LayerSpec& l) {
  int64_t n = 0;
  for (const auto& t : l.tensors)
    if (t.shape.rank >= 2) n = add_sat(n, t.shape.numel());
  return n;
}

struct Dims {
  double mb, L, T, batch;  // sequences per micro-batch, prompt, new tokens, sequences per replica
  double w, a;             // bytes per weight, per activation / KV element
};

LayerCost block_cost(const ModelSpec& s, const LayerSpec& l, const Dims& k, bool generate) {
  const double H = d(s.hidden), I = d(s.intermediate), qd = d(s.n_heads) * d(s.head_dim),
               kvd = d(s.n_kv_heads) * d(s.head_dim), nh = d(s.n_heads);
  const double lin = d(matrix_params(l)), tokens = k.mb * k.L;
  // Activations read and written per token: the residual stream, norms, q/k/v, attention output,
  // the MLP's inner activations. Approximate; the weights dominate decode and GEMMs the prefill.
  const double per_token = (6 * H + 2 * qd + 2 * kvd + 3 * I) * k.a;
  LayerCost c;
  c.pass.flops = 2 * tokens * lin + 4 * k.mb * qd * k.L * (k.L + 1) / 2;  // GEMMs + causal attention
  c.pass.bytes = d(l.param_count()) * k.w + tokens * per_token + tokens * 2 * kvd * k.a;
  c.decode_base.flops = 2 * k.mb * lin;
  c.decode_base.bytes = d(l.param_count()) * k.w + k.mb * per_token + k.mb * 2 * kvd * k.a;  // + KV write
  c.decode_per_ctx.flops = 4 * k.mb * qd;        // q.K and p.V over each cached position
  c.decode_per_ctx.bytes = k.mb * 2 * kvd * k.a;  // reading K and V of each cached position
  if (generate) c.kv_bytes = bytes_from_double(2 * kvd * (k.L + k.T) * k.batch * k.a);
  // Scratch: q/k/v, attention output, MLP inner activations, and one sequence's attention scores
  // (f32) -- the attention kernel runs a sequence at a time.
  const double scratch = tokens * (2 * H + qd + 2 * kvd + 2 * I) * k.a + nh * k.L * k.L * 4;
  const double out = tokens * H * k.a;
  c.out_bytes = bytes_from_double(out);
  c.out_decode_bytes = bytes_from_double(k.mb * H * k.a);
  c.peak_bytes = bytes_from_double(scratch + 4 * out);  // double-buffered input and output
  return c;
}

LayerCost embedding_cost(const ModelSpec& s, const Dims& k) {
  const double H = d(s.hidden), tokens = k.mb * k.L;
  const double rows = s.family == Family::Gpt2 ? 2 : 1;  // gpt2 adds a position embedding row
  LayerCost c;
  c.pass = {tokens * H * rows, tokens * H * (rows * k.w + k.a)};  // a gather, not a GEMM
  c.decode_base = {k.mb * H * rows, k.mb * H * (rows * k.w + k.a)};
  c.out_bytes = bytes_from_double(tokens * H * k.a);
  c.out_decode_bytes = bytes_from_double(k.mb * H * k.a);
  c.peak_bytes = bytes_from_double(3 * tokens * H * k.a);
  return c;
}

LayerCost head_cost(const ModelSpec& s, const LayerSpec& l, const Dims& k) {
  const double H = d(s.hidden), V = d(s.vocab_size), tokens = k.mb * k.L;
  LayerCost c;
  // Final norm and logits at the last position of each sequence; f32 logits.
  c.pass = {2 * k.mb * H * V + 8 * k.mb * H, d(l.param_count()) * k.w + k.mb * (H * k.a + V * 4)};
  c.decode_base = c.pass;
  // Logits and their softmax for top-k / sampling, plus the received activation (double-buffered).
  c.peak_bytes = bytes_from_double(2 * k.mb * V * 4 + 2 * tokens * H * k.a);
  return c;
}

// An mlp layer sees one vector per sequence: there is no sequence dimension.
LayerCost mlp_cost(const LayerSpec& l, const Dims& k) {
  const double in = d(l.in_features), out = d(l.out_features);
  LayerCost c;
  const double flops = l.kind == LayerKind::MlpLinear ? 2 * k.mb * in * out : 5 * k.mb * in;
  c.pass = {flops, d(l.param_count()) * k.w + k.mb * (in + out) * k.a};
  c.decode_base = c.pass;
  c.out_bytes = c.out_decode_bytes = bytes_from_double(k.mb * out * k.a);
  c.peak_bytes = bytes_from_double(k.mb * (in + out) * k.a * 2);
  return c;
}

}  // namespace

DType activation_dtype(const DeviceSpec& device, DType dtype) { return device.device.is_cpu() ? DType::F32 : dtype; }

CostModel cost_model_build(const ModelSpec& spec, const Workload& w, DType dtype, DType act) {
  CostModel m;
  m.workload = w;
  m.dtype = dtype;
  m.act = act;
  const bool generate = w.mode == Mode::Generate;
  const Dims k{d(w.micro_batch_size()), d(w.prompt_len), d(generate ? w.max_new_tokens : 0), d(w.batch),
               d(static_cast<int64_t>(dtype_size(dtype))), d(static_cast<int64_t>(dtype_size(act)))};
  for (const auto& l : spec.layers) {
    LayerCost c;
    switch (l.kind) {
      case LayerKind::Embedding: c = embedding_cost(spec, k); break;
      case LayerKind::Block: c = block_cost(spec, l, k, generate); break;
      case LayerKind::Head: c = head_cost(spec, l, k); break;
      default: c = mlp_cost(l, k); break;
    }
    c.params = l.param_count();
    c.weight_bytes = mul_sat(c.params, static_cast<int64_t>(dtype_size(dtype)));  // in integers: exact past 2^53
    m.layers.push_back(c);
  }
  m.token_bytes = mul_sat(8, w.micro_batch_size());  // int32 token + int32 flags per sequence
  const double logits = k.mb * d(spec.vocab_size);
  m.sample = {5 * logits, 8 * logits};       // read f32 logits, write probabilities
  return m;
}

DeviceRate device_rate(const DeviceSpec& device, DType dtype, double share) {
  PS_CHECK(share > 0.0 && share <= 1.0, "share ", share);
  return {device.flops(dtype) * share, device.memory_bandwidth * share, device.layer_overhead};
}

double roofline_time(const Work& w, const DeviceRate& r) {
  return std::max(w.flops / r.flops, w.bytes / r.bandwidth) + r.overhead;
}

double sum_max_linear(double u, double v, double w, double x, int64_t c0, int64_t c1) {
  if (c1 < c0) return 0.0;
  auto sum = [](double a, double b, int64_t lo, int64_t hi) {
    if (hi < lo) return 0.0;
    const double n = d(hi - lo + 1);
    return n * a + b * (d(lo) + d(hi)) * n / 2.0;
  };
  // diff(c) = (u + v c) - (w + x c) changes sign at most once, at c* = (w - u) / (v - x).
  const double dv = v - x, du = u - w;
  if (dv == 0.0) return du >= 0.0 ? sum(u, v, c0, c1) : sum(w, x, c0, c1);
  const double cstar = std::clamp(std::floor(-du / dv), d(c0 - 1), d(c1));
  const int64_t split = static_cast<int64_t>(cstar);  // c <= split on one side of c*, the rest on the other
  if (dv > 0.0) return sum(w, x, c0, split) + sum(u, v, split + 1, c1);  // diff rises: memory line first
  return sum(u, v, c0, split) + sum(w, x, split + 1, c1);
}

double LayerClock::round_time(const CostModel& m, int layer, RoundKind kind, int64_t ctx) const {
  const LayerCost& c = m.layers.at(static_cast<size_t>(layer));
  const bool decode = kind == RoundKind::Decode;
  if (measured_pass) {
    const auto* v = decode ? measured_decode : measured_pass;
    PS_CHECK(v && static_cast<size_t>(layer) < v->size(), "measured times for layer ", layer);
    return (*v)[static_cast<size_t>(layer)] * measured_scale;
  }
  if (!decode) return roofline_time(c.pass, rate);
  const double c_ = d(ctx);
  return roofline_time({c.decode_base.flops + c_ * c.decode_per_ctx.flops, c.decode_base.bytes + c_ * c.decode_per_ctx.bytes},
                       rate);
}

double LayerClock::workload_time(const CostModel& m, int layer) const {
  const Workload& w = m.workload;
  const double pass = round_time(m, layer, RoundKind::Forward, w.prompt_len);
  if (w.mode != Mode::Generate || w.max_new_tokens <= 1) return pass;
  const int64_t c0 = w.prompt_len + 1, c1 = w.prompt_len + w.max_new_tokens - 1;  // decode rounds 1..T-1
  if (measured_pass) return pass + d(c1 - c0 + 1) * round_time(m, layer, RoundKind::Decode, c0);
  const LayerCost& c = m.layers.at(static_cast<size_t>(layer));
  const double steps = d(c1 - c0 + 1);
  return pass + steps * rate.overhead +
         sum_max_linear(c.decode_base.flops / rate.flops, c.decode_per_ctx.flops / rate.flops,
                        c.decode_base.bytes / rate.bandwidth, c.decode_per_ctx.bytes / rate.bandwidth, c0, c1);
}

double send_round_time(const CostModel& m, int layer, RoundKind kind, const LinkSpec& link) {
  const LayerCost& c = m.layers.at(static_cast<size_t>(layer));
  return link_time(link, d(kind == RoundKind::Decode ? c.out_decode_bytes : c.out_bytes));
}

double send_workload_time(const CostModel& m, int layer, const LinkSpec& link) {
  const Workload& w = m.workload;
  double t = send_round_time(m, layer, RoundKind::Forward, link);
  if (w.mode == Mode::Generate && w.max_new_tokens > 1)
    t += d(w.max_new_tokens - 1) * send_round_time(m, layer, RoundKind::Decode, link);
  return t;
}

double tokens_workload_time(const CostModel& m, const LinkSpec& link) {
  const Workload& w = m.workload;
  if (w.mode != Mode::Generate) return 0.0;
  return d(w.max_new_tokens) * link_time(link, d(m.token_bytes));  // the prefill's and each decode round's
}

}  // namespace ps
