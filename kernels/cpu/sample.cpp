// Picks one token per row of logits[n, vocab]. The algorithm is specified exactly, so that every
// backend draws the same token from the same key (sampling_key.cpp):
//
//   temperature <= 0: greedy, the lowest index among the maximal logits.
//   Otherwise:
//   1. Order: token a precedes b when logit[a] > logit[b], or they are equal and a < b. This is
//      the order of decreasing probability, with a stable tie-break; the CDF runs in this order.
//   2. Weights, in fixed point so that sums are exact and independent of summation order (a GPU
//      reduction gets the same bits as this loop): with m = max logit,
//        w[t] = floor(exp(double(logit[t]) / T - double(m) / T) * 2^40)     (integer, <= 2^40)
//      The top token weighs exactly 2^40; a token below 2^-40 of it weighs 0 and is never drawn.
//   3. top_k (HF order: temperature, then top-k, then top-p): when 0 < top_k < vocab, keep the
//      first top_k tokens of the order.
//   4. top_p: when top_p < 1, keep the shortest prefix of the kept tokens whose weight sum S_j
//      satisfies S_j * 2^32 >= P * Z, where Z is the weight of all kept tokens and
//      P = round(top_p * 2^32). At least one token is always kept.
//   5. Draw: U = sample_uniform(key) * 2^53 (an integer below 2^53); pick the first token j of the
//      prefix with S_j * 2^53 > U * Z', where Z' is the nucleus' weight (renormalisation without
//      a division). U < 2^53 guarantees some token qualifies.
// All products fit in 128 bits: Z < 2^31 * 2^40, times 2^53 is below 2^124.
//
// Only the prefix of the order that the walk reaches is sorted (nth_element, then sort, in
// doubling blocks), so a peaked distribution over a large vocabulary costs O(vocab), not a sort.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

namespace {

using u128 = unsigned __int128;
constexpr int kWeightBits = 40;
constexpr int kTopPBits = 32;
constexpr int kUniformBits = 53;

// Lazily sorted candidate list: order[0, sorted) is final; at(j) sorts further blocks on demand.
struct SortedPrefix {
  std::vector<int32_t>& order;
  size_t size;  // candidates are order[0, size)
  const float* logits;
  size_t sorted = 0;

  bool before(int32_t a, int32_t b) const { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); }

  int32_t at(size_t j) {
    auto cmp = [this](int32_t a, int32_t b) { return before(a, b); };
    while (j >= sorted) {
      const size_t next = std::min(size, std::max<size_t>(2 * sorted, sorted + 64));
      auto first = order.begin() + static_cast<std::ptrdiff_t>(sorted);
      auto mid = order.begin() + static_cast<std::ptrdiff_t>(next);
      auto last = order.begin() + static_cast<std::ptrdiff_t>(size);
      if (mid != last) std::nth_element(first, mid, last, cmp);
      std::sort(first, mid, cmp);
      sorted = next;
    }
    return order[j];
  }
};

// The lowest index among the maximal logits. A NaN would break the order's strict weak ordering
// (and means the forward pass failed), so it is an error here rather than a silent pick.
int32_t argmax(const float* x, int64_t vocab) {
  int64_t best = 0;
  bool nan = false;
  for (int64_t t = 0; t < vocab; ++t) {
    nan |= std::isnan(x[t]);
    if (x[t] > x[best]) best = t;
  }
  if (nan) fail_runtime("sample: the logits contain NaN");
  return static_cast<int32_t>(best);
}

int32_t sample_row(const float* x, int64_t vocab, const ops::SamplingParams& p, const ops::SampleKey& key,
                   std::vector<int32_t>& order) {
  const int32_t top = argmax(x, vocab);
  if (!std::isfinite(x[top])) fail_runtime("sample: the largest logit is ", x[top]);
  if (!(p.temperature > 0.0f)) return top;

  const double inv_t = 1.0 / static_cast<double>(p.temperature);
  const double m = static_cast<double>(x[top]) * inv_t;
  auto weight = [&](int32_t t) {
    return static_cast<uint64_t>(std::ldexp(std::exp(static_cast<double>(x[t]) * inv_t - m), kWeightBits));
  };

  order.resize(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  SortedPrefix cands{order, static_cast<size_t>(vocab), x};
  if (p.top_k > 0 && p.top_k < vocab) {
    cands.size = static_cast<size_t>(p.top_k);
    std::nth_element(order.begin(), order.begin() + p.top_k, order.end(),
                     [&](int32_t a, int32_t b) { return cands.before(a, b); });
  }
  u128 total = 0;
  for (size_t j = 0; j < cands.size; ++j) total += weight(order[j]);

  size_t nucleus = cands.size;
  if (p.top_p < 1.0f) {
    const auto top_p = static_cast<u128>(std::llround(std::ldexp(std::max(p.top_p, 0.0f), kTopPBits)));
    u128 sum = 0;
    for (size_t j = 0; j < cands.size; ++j) {
      sum += weight(cands.at(j));
      if ((sum << kTopPBits) >= top_p * total) {
        nucleus = j + 1;
        total = sum;
        break;
      }
    }
  }

  const auto u = static_cast<u128>(std::ldexp(ops::sample_uniform(key), kUniformBits));
  const u128 target = u * total;
  u128 sum = 0;
  for (size_t j = 0; j < nucleus; ++j) {
    sum += weight(cands.at(j));
    if ((sum << kUniformBits) > target) return cands.at(j);
  }
  fail_runtime("sample: internal error: the CDF walk passed the end of the nucleus");
}

}  // namespace

void sample(const OpContext& ctx, const TensorView& logits, std::span<const ops::SamplingParams> params,
            std::span<const ops::SampleKey> keys, std::span<int32_t> out_tokens) {
  const int64_t n = logits.dim(0), vocab = logits.dim(1);
  if (n == 0) return;

  const float* px = logits.f32();
  parallel_for(ctx.pool, n, 1, [&](int64_t r0, int64_t r1) {
    std::vector<int32_t> order;  // per chunk: threads never share it
    for (int64_t i = r0; i < r1; ++i) {
      const auto r = static_cast<size_t>(i);
      out_tokens[r] = sample_row(px + i * vocab, vocab, params[r], keys[r], order);
    }
  });
}

}  // namespace ps::cpu
