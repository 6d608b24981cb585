// The k most likely next tokens of one row with their log-probabilities (`forward
// --top-logprobs`). log-softmax in double, so a large vocabulary costs no precision; ties go to
// the lower token id. Pure host code: the scoring driver copies the last row back first.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/ops.h"

namespace ps::ops {

std::vector<std::pair<int32_t, float>> top_logprobs(const OpContext&, std::span<const float> logits, int k) {
  PS_CHECK(k >= 0, "top_logprobs: k = ", k);
  const auto vocab = static_cast<int64_t>(logits.size());
  if (k == 0 || vocab == 0) return {};
  float m = logits[0];
  for (const float x : logits) {
    if (std::isnan(x)) fail_runtime("top_logprobs: the logits contain NaN");
    m = std::max(m, x);
  }
  if (!std::isfinite(m)) fail_runtime("top_logprobs: the largest logit is ", m);
  double sum = 0.0;
  for (const float x : logits) sum += std::exp(static_cast<double>(x) - m);
  const double lse = static_cast<double>(m) + std::log(sum);

  const auto kk = static_cast<size_t>(std::min<int64_t>(k, vocab));
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kk), order.end(),
                    [&](int32_t a, int32_t b) {
                      const float xa = logits[static_cast<size_t>(a)], xb = logits[static_cast<size_t>(b)];
                      return xa > xb || (xa == xb && a < b);
                    });
  std::vector<std::pair<int32_t, float>> out;
  out.reserve(kk);
  for (size_t i = 0; i < kk; ++i)
    out.emplace_back(order[i], static_cast<float>(logits[static_cast<size_t>(order[i])] - lse));
  return out;
}

}  // namespace ps::ops
