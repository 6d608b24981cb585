// Picks one token per row of logits[n, vocab] with exactly the CPU sampler's rule
// (kernels/cpu/sample.cpp: the order, the fixed-point weights, top-k, top-p and the draw), so a
// key gives the same token on either backend. One block per row.
//
// The CPU walks a lazily sorted order; a GPU sort of the vocabulary per step would cost more than
// the rest of sampling. Instead every step of the rule is a "first token of the order whose
// inclusive prefix sum reaches a threshold", found by a radix descent over a 64-bit key that
// encodes the order: key = (orderable logit bits << 32) | (2^32 - 1 - token), so that a larger
// key comes first (higher logit, then lower id; -0 is folded into +0, as the CPU compares them
// equal). Each of 8 levels histograms 8 key bits (count and weight of the tokens still in play),
// picks the first bin (from the top) where the running prefix satisfies the condition, and
// narrows to it; after 8 levels one token remains. The sums are integers, so they are exact and
// independent of the order atomics add them in: the same bits as the CPU's sequential loop.
//
// Tokens of weight 0 can never be drawn (the CDF does not move at them) but do count for top-k.
// When the tokens with a non-zero weight are few (the usual case: a peaked distribution), the
// descent runs over a compact list in shared memory: all tokens whose logit is at least the
// smallest logit of non-zero weight. That list is a prefix of the order, so ranks within it are
// ranks in the vocabulary and top-k stays exact. Otherwise the descent reads the whole row.
//
// Exactness: the host computes the draw U, top_p's fixed-point threshold and 1/T exactly as the
// CPU does (sample_uniform is the same function). The weights use CUDA's double exp; where it
// differs from the C library's by an ulp, a weight can differ by one unit in 2^40, which changes
// the token only if the draw falls within ~2^-40 of a CDF boundary. Products use __dmul_rn and
// __dsub_rn so that nvcc does not contract them into an FMA the CPU does not do.
//
// The tokens are written to host memory, so this op waits for its stream.
#include <cmath>
#include <vector>

#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_math.cuh"

namespace ps::cuda {

namespace {

using u128 = unsigned __int128;
constexpr int kThreads = 512;
constexpr int kCompactMax = 2048;  // candidates kept in shared memory (32 KiB)
constexpr int kWeightBits = 40, kTopPBits = 32, kUniformBits = 53;

enum Status : int32_t { kOk = 0, kNan = 1, kNotFinite = 2, kInternal = 3 };

struct RowParams {
  double inv_t;    // 1 / temperature
  uint64_t u;      // floor(sample_uniform(key) * 2^53)
  uint64_t top_p;  // round(top_p * 2^32), when use_top_p
  int32_t top_k;   // when use_top_k
  uint8_t greedy, use_top_k, use_top_p;
};

struct RowResult {
  int32_t token;
  int32_t status;
  float value;  // the largest logit, for kNotFinite
};

// ---- the order and the weights -------------------------------------------------------------
__device__ __forceinline__ uint64_t order_key(float x, int32_t token) {
  if (x == 0.0f) x = 0.0f;  // -0 == +0 in the CPU's comparisons
  const uint32_t b = __float_as_uint(x);
  const uint32_t ordered = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  return (static_cast<uint64_t>(ordered) << 32) | (0xffffffffu - static_cast<uint32_t>(token));
}

__device__ __forceinline__ int32_t key_token(uint64_t key) {
  return static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(key));
}

// floor(exp(x / T - m) * 2^40) with the CPU's operation order: x * (1/T) - m, no FMA.
__device__ __forceinline__ uint64_t weight_of(float x, double inv_t, double m) {
  const double e = exp(__dsub_rn(__dmul_rn(static_cast<double>(x), inv_t), m));
  return __double2ull_rz(__dmul_rn(e, static_cast<double>(uint64_t{1} << kWeightBits)));  // exact scaling
}

// ---- where the descent reads tokens from ---------------------------------------------------
struct Candidates {
  const float* logits;  // whole row (compact == nullptr)
  int64_t vocab;
  const uint64_t* keys;  // compact list in shared memory
  const uint64_t* weights;
  int count;
  double inv_t, m;

  __device__ int64_t size() const { return keys ? count : vocab; }
  __device__ uint64_t key(int64_t i) const {
    return keys ? keys[i] : order_key(logits[i], static_cast<int32_t>(i));
  }
  __device__ uint64_t weight(int64_t i) const { return keys ? weights[i] : weight_of(logits[i], inv_t, m); }
};

// The condition on an inclusive prefix (count, weight) that the descent looks for.
struct Cond {
  enum Kind { CountAtLeast, WeightReaches, WeightExceeds } kind;
  uint64_t a, b;
  // CountAtLeast: count >= a (top-k's last token)
  // WeightReaches: weight * 2^32 >= a * b (top-p: a = P, b = Z)
  // WeightExceeds: weight * 2^53 > a * b (the draw: a = U, b = Z')
  __device__ bool operator()(uint64_t count, uint64_t weight) const {
    switch (kind) {
      case CountAtLeast: return count >= a;
      case WeightReaches: return (static_cast<u128>(weight) << kTopPBits) >= static_cast<u128>(a) * b;
      case WeightExceeds: return (static_cast<u128>(weight) << kUniformBits) > static_cast<u128>(a) * b;
    }
    return false;
  }
};

struct Found {
  uint64_t key;     // the token's order key
  uint64_t weight;  // inclusive prefix weight at it
  bool ok;
};

struct Shared {
  uint32_t count[256];
  uint64_t weight[256];
  uint64_t above_count, above_weight;  // prefix before the bins still in play
  uint32_t chosen;
  bool ok;
};

// The first token of the order, among those with key >= kmin, whose inclusive prefix satisfies
// cond. The caller guarantees that the whole set satisfies it.
__device__ Found descend(const Candidates& c, uint64_t kmin, const Cond& cond, Shared& sh) {
  uint64_t prefix = 0, mask = 0;
  if (threadIdx.x == 0) {
    sh.above_count = 0;
    sh.above_weight = 0;
    sh.ok = true;
  }
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += blockDim.x) {
      sh.count[b] = 0;
      sh.weight[b] = 0;
    }
    __syncthreads();
    for (int64_t i = threadIdx.x; i < c.size(); i += blockDim.x) {
      const uint64_t key = c.key(i);
      if (key < kmin || (key & mask) != prefix) continue;
      const auto bin = static_cast<uint32_t>(key >> shift) & 255u;
      atomicAdd(&sh.count[bin], 1u);
      const uint64_t w = c.weight(i);
      if (w != 0) atomicAdd(reinterpret_cast<unsigned long long*>(&sh.weight[bin]), static_cast<unsigned long long>(w));
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      uint64_t count = sh.above_count, weight = sh.above_weight;
      int bin = 255;
      for (; bin >= 0; --bin) {
        if (sh.count[bin] == 0) continue;
        if (cond(count + sh.count[bin], weight + sh.weight[bin])) break;
        count += sh.count[bin];
        weight += sh.weight[bin];
      }
      sh.ok = sh.ok && bin >= 0;
      sh.chosen = bin < 0 ? 0 : static_cast<uint32_t>(bin);
      sh.above_count = count;
      sh.above_weight = weight;
    }
    __syncthreads();
    prefix |= static_cast<uint64_t>(sh.chosen) << shift;
    mask |= uint64_t{255} << shift;
  }
  // One token is left in the last bin: its weight completes the inclusive prefix.
  const Found f{prefix, sh.above_weight + sh.weight[sh.chosen], sh.ok};
  __syncthreads();  // sh is reused by the next descent
  return f;
}

// Sum of the weights of the tokens with key >= kmin.
__device__ uint64_t total_weight(const Candidates& c, uint64_t kmin, unsigned long long* sum) {
  if (threadIdx.x == 0) *sum = 0;
  __syncthreads();
  unsigned long long local = 0;
  for (int64_t i = threadIdx.x; i < c.size(); i += blockDim.x)
    if (c.key(i) >= kmin) local += c.weight(i);
  atomicAdd(sum, local);
  __syncthreads();
  const uint64_t total = *sum;
  __syncthreads();
  return total;
}

// The lowest index among the maximal logits, and whether the row holds a NaN.
__device__ void row_argmax(const float* x, int64_t vocab, float* best_v, int32_t* best_i, bool* any_nan) {
  __shared__ float vs[kThreads / kWarp];
  __shared__ int32_t is[kThreads / kWarp];
  float v = -INFINITY;
  int32_t idx = INT32_MAX;
  bool nan = false;
  for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) {
    const float xt = x[t];
    nan |= isnan(xt);
    if (xt > v || (xt == v && t < idx)) {
      v = xt;
      idx = static_cast<int32_t>(t);
    }
  }
  for (int off = kWarp / 2; off > 0; off /= 2) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, off);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, idx, off);
    if (ov > v || (ov == v && oi < idx)) {
      v = ov;
      idx = oi;
    }
  }
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  if (lane == 0) {
    vs[warp] = v;
    is[warp] = idx;
  }
  nan = __syncthreads_or(nan);
  if (threadIdx.x == 0) {
    for (int w = 1; w < static_cast<int>(blockDim.x / kWarp); ++w)
      if (vs[w] > vs[0] || (vs[w] == vs[0] && is[w] < is[0])) {
        vs[0] = vs[w];
        is[0] = is[w];
      }
  }
  __syncthreads();
  *best_v = vs[0];
  *best_i = is[0];
  *any_nan = nan;
  __syncthreads();
}

template <class T>
__global__ void __launch_bounds__(kThreads) sample_kernel(const T* logits, int64_t vocab, const RowParams* params,
                                                          RowResult* results, float* row_f32) {
  __shared__ Shared sh;
  __shared__ uint64_t cand_key[kCompactMax], cand_weight[kCompactMax];
  __shared__ unsigned long long sum;
  __shared__ int cand_count;
  __shared__ float scratch[kThreads / kWarp];

  const RowParams p = params[blockIdx.x];
  RowResult* res = results + blockIdx.x;
  // The row in f32 (exact for f16/bf16); for f32 logits row_f32 is the input itself.
  const float* x = row_f32 ? row_f32 + blockIdx.x * vocab : reinterpret_cast<const float*>(logits) + blockIdx.x * vocab;
  if (row_f32) {
    const T* src = logits + blockIdx.x * vocab;
    float* dst = row_f32 + blockIdx.x * vocab;
    for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) dst[t] = to_f32(src[t]);
    __syncthreads();
  }

  float top_v;
  int32_t top;
  bool nan;
  row_argmax(x, vocab, &top_v, &top, &nan);
  if (threadIdx.x == 0) *res = RowResult{top, kOk, top_v};
  if (nan || !isfinite(top_v)) {
    if (threadIdx.x == 0) res->status = nan ? kNan : kNotFinite;
    return;
  }
  if (p.greedy) return;

  // Tokens of non-zero weight, and the compact candidate list when they are few.
  const double m = __dmul_rn(static_cast<double>(top_v), p.inv_t);
  if (threadIdx.x == 0) cand_count = 0;
  float local_min = top_v;  // the top token weighs 2^40
  for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x)
    if (x[t] < local_min && weight_of(x[t], p.inv_t, m) != 0) local_min = x[t];
  const float floor_logit = -block_max(-local_min, scratch);  // also orders cand_count's reset
  for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) {
    if (!(x[t] >= floor_logit)) continue;
    const int slot = atomicAdd(&cand_count, 1);
    if (slot < kCompactMax) {
      cand_key[slot] = order_key(x[t], static_cast<int32_t>(t));
      cand_weight[slot] = weight_of(x[t], p.inv_t, m);
    }
  }
  __syncthreads();
  const bool compact = cand_count <= kCompactMax;
  const Candidates c{x, vocab, compact ? cand_key : nullptr, cand_weight, cand_count, p.inv_t, m};

  bool ok = true;
  uint64_t kmin = 0;
  // top-k: keep the first top_k tokens of the order. In the compact list, top_k >= its size
  // keeps all of it (the tokens after it weigh 0).
  if (p.use_top_k && (!compact || p.top_k < cand_count)) {
    const Found f = descend(c, 0, Cond{Cond::CountAtLeast, static_cast<uint64_t>(p.top_k), 0}, sh);
    ok = ok && f.ok;
    kmin = f.key;
  }
  uint64_t z = total_weight(c, kmin, &sum);
  if (p.use_top_p) {
    const Found f = descend(c, kmin, Cond{Cond::WeightReaches, p.top_p, z}, sh);
    ok = ok && f.ok;
    kmin = f.key;
    z = f.weight;
  }
  const Found f = descend(c, kmin, Cond{Cond::WeightExceeds, p.u, z}, sh);
  ok = ok && f.ok;
  if (threadIdx.x == 0) {
    res->token = key_token(f.key);
    if (!ok) res->status = kInternal;
  }
}

// The host half of the rule, computed by the same expressions as the CPU sampler.
RowParams row_params(const ops::SamplingParams& p, const ops::SampleKey& key, int64_t vocab) {
  RowParams r{};
  r.greedy = !(p.temperature > 0.0f);
  r.inv_t = 1.0 / static_cast<double>(p.temperature);
  r.use_top_k = p.top_k > 0 && p.top_k < vocab;
  r.top_k = p.top_k;
  r.use_top_p = p.top_p < 1.0f;
  r.top_p = static_cast<uint64_t>(std::llround(std::ldexp(std::max(p.top_p, 0.0f), kTopPBits)));
  r.u = static_cast<uint64_t>(std::ldexp(ops::sample_uniform(key), kUniformBits));
  return r;
}

}  // namespace

void sample(const OpContext& ctx, const TensorView& logits, std::span<const ops::SamplingParams> params,
            std::span<const ops::SampleKey> keys, std::span<int32_t> out_tokens) {
  const int64_t n = logits.dim(0), vocab = logits.dim(1);
  if (n == 0) return;
  // Prefix weights are summed in 64 bits: vocab * 2^40 must stay below 2^64.
  if (vocab >= (int64_t{1} << 24))
    fail_runtime("sample: the CUDA sampler takes vocabularies below 2^24 tokens, got ", vocab);
  std::vector<RowParams> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    rows[static_cast<size_t>(i)] = row_params(params[static_cast<size_t>(i)], keys[static_cast<size_t>(i)], vocab);

  const cudaStream_t stream = stream_of(ctx);
  const DeviceScratch d_params = upload(stream, std::span<const RowParams>(rows));
  const DeviceScratch d_results(stream, static_cast<size_t>(n) * sizeof(RowResult));
  // f16/bf16 rows are widened once into scratch, so the descent's repeated reads are plain f32.
  const DeviceScratch d_f32(stream, logits.dtype == DType::F32 ? 0 : static_cast<size_t>(n * vocab) * sizeof(float));
  const unsigned blocks = static_cast<unsigned>(to_int("sample", "rows", n));
  dispatch_dtype(logits.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    sample_kernel<T><<<blocks, kThreads, 0, stream>>>(static_cast<const T*>(logits.data), vocab,
                                                      d_params.as<RowParams>(), d_results.as<RowResult>(),
                                                      d_f32.as<float>());
    PS_CUDA_LAUNCH_CHECK("sample_kernel");
  });
  std::vector<RowResult> results(static_cast<size_t>(n));
  PS_CUDA_CHECK(cudaMemcpyAsync(results.data(), d_results.data(), results.size() * sizeof(RowResult),
                                cudaMemcpyDeviceToHost, stream));
  PS_CUDA_CHECK(cudaStreamSynchronize(stream));
  for (int64_t i = 0; i < n; ++i) {
    const RowResult& r = results[static_cast<size_t>(i)];
    if (r.status == kNan) fail_runtime("sample: the logits contain NaN");
    if (r.status == kNotFinite) fail_runtime("sample: the largest logit is ", r.value);
    if (r.status != kOk) fail_runtime("sample: internal error: no token satisfied the CDF walk in row ", i);
    out_tokens[static_cast<size_t>(i)] = r.token;
  }
}

}  // namespace ps::cuda
