// sample (greedy, temperature, top-k, top-p), its random key, and top_logprobs. The sampler is
// checked against an independent inverse-CDF sampler in double, and statistically.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/ops.h"
#include "kernels/kernel_test_util.h"

namespace ps::test {
namespace {

using ops::SampleKey;
using ops::SamplingParams;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

SamplingParams params(float temperature, int32_t top_k = 0, float top_p = 1.0f) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  return p;
}

std::vector<float> log_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

class SampleTest : public ThreadsTest {
 protected:
  // One row of logits sampled under n keys (positions 0..n-1 of one request), as one batch.
  std::vector<int32_t> draw(const std::vector<float>& row, const SamplingParams& p, int n, uint64_t seed = 7) {
    const auto vocab = static_cast<int64_t>(row.size());
    std::vector<float> logits;
    for (int i = 0; i < n; ++i) logits.insert(logits.end(), row.begin(), row.end());
    std::vector<SamplingParams> ps(static_cast<size_t>(n), p);
    std::vector<SampleKey> keys;
    for (int i = 0; i < n; ++i) keys.push_back({seed, ops::sample_request_hash("req"), i});
    std::vector<int32_t> out(static_cast<size_t>(n), -1);
    ops::sample(ctx(), view_of(logits, Shape{n, vocab}), ps, keys, out);
    return out;
  }

  std::vector<double> frequencies(const std::vector<int32_t>& tokens, size_t vocab) {
    std::vector<double> f(vocab);
    for (int32_t t : tokens) f[static_cast<size_t>(t)] += 1.0 / static_cast<double>(tokens.size());
    return f;
  }
};
INSTANTIATE_THREADS(SampleTest);

// The reference sampler: probabilities in double, sorted by (logit desc, id asc), cut by top-k,
// then the shortest prefix reaching top_p, renormalised, inverted at u. Returns -1 when u or the
// top_p cut lies within `margin` of a boundary, where rounding may legitimately decide.
int32_t reference_sample(const std::vector<float>& x, const SamplingParams& p, double u, double margin = 1e-8) {
  std::vector<int32_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return x[static_cast<size_t>(a)] > x[static_cast<size_t>(b)]; });
  size_t keep = p.top_k > 0 ? std::min<size_t>(static_cast<size_t>(p.top_k), x.size()) : x.size();
  const double m = x[static_cast<size_t>(order[0])];
  std::vector<double> w;
  for (size_t j = 0; j < keep; ++j) w.push_back(std::exp((x[static_cast<size_t>(order[j])] - m) / p.temperature));
  const double z = std::accumulate(w.begin(), w.end(), 0.0);
  if (p.top_p < 1.0f) {
    double c = 0;
    for (size_t j = 0; j < keep; ++j) {
      c += w[j] / z;
      if (std::abs(c - p.top_p) < margin) return -1;
      if (c >= p.top_p) {
        keep = j + 1;
        break;
      }
    }
  }
  const double z2 = std::accumulate(w.begin(), w.begin() + static_cast<long>(keep), 0.0);
  double c = 0;
  for (size_t j = 0; j < keep; ++j) {
    c += w[j] / z2;
    if (std::abs(c - u) < margin) return -1;
    if (c > u) return order[j];
  }
  return order[keep - 1];
}

TEST(SampleKeyTest, RequestHashIsFnv1a64) {
  EXPECT_EQ(ops::sample_request_hash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(ops::sample_request_hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(ops::sample_request_hash("foobar"), 0x85944171f73967e8ull);
}

TEST(SampleKeyTest, UniformMatchesGoldenValues) {
  // Computed with an independent Python splitmix64; the CUDA backend must produce the same bits.
  EXPECT_EQ(ops::sample_uniform({0, 0, 0}), 1249383295688599.0 * 0x1.0p-53);
  EXPECT_EQ(ops::sample_uniform({42, ops::sample_request_hash("req-7"), 5}), 563242980441815.0 * 0x1.0p-53);
  EXPECT_EQ(ops::sample_uniform({1, 2, -1}), 6708702354588782.0 * 0x1.0p-53);
}

TEST(SampleKeyTest, UniformDependsOnEveryKeyPart) {
  const SampleKey base{3, ops::sample_request_hash("x"), 10};
  const double u = ops::sample_uniform(base);
  EXPECT_NE(ops::sample_uniform({4, base.request_hash, 10}), u);
  EXPECT_NE(ops::sample_uniform({3, ops::sample_request_hash("y"), 10}), u);
  EXPECT_NE(ops::sample_uniform({3, base.request_hash, 11}), u);
  EXPECT_EQ(ops::sample_uniform(base), u);
  double sum = 0;
  for (int64_t p = 0; p < 10000; ++p) {
    const double v = ops::sample_uniform({3, base.request_hash, p});
    ASSERT_GE(v, 0.0);
    ASSERT_LT(v, 1.0);
    sum += v;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.015);  // 5 sigma
}

TEST_P(SampleTest, GreedyTakesLowestIndexAmongTies) {
  const std::vector<float> row{1.0f, 5.0f, 5.0f, 2.0f, kNegInf};
  for (float t : {0.0f, -1.0f})
    for (int32_t tok : draw(row, params(t), 3)) EXPECT_EQ(tok, 1);
}

TEST_P(SampleTest, TopKOneEqualsGreedy) {
  for (int64_t vocab : {1, 3, 17, 4097}) {
    auto row = random_floats(static_cast<size_t>(vocab), 71, -5.0f, 5.0f);
    const auto best = std::max_element(row.begin(), row.end()) - row.begin();
    row.push_back(row[static_cast<size_t>(best)]);  // a tie at a higher index
    for (int32_t tok : draw(row, params(0.8f, 1), 20)) EXPECT_EQ(tok, best) << "vocab=" << vocab;
    for (int32_t tok : draw(row, params(0.0f), 2)) EXPECT_EQ(tok, best) << "vocab=" << vocab;
  }
}

TEST_P(SampleTest, MatchesReferenceInverseCdf) {
  const SamplingParams configs[] = {params(1.0f), params(0.7f, 5), params(1.3f, 0, 0.9f), params(1.0f, 10, 0.5f),
                                    params(0.5f, 0, 0.3f)};
  for (int64_t vocab : {3, 17, 4097}) {
    const auto row = random_floats(static_cast<size_t>(vocab), 72, -4.0f, 4.0f);
    for (const SamplingParams& p : configs) {
      const auto tokens = draw(row, p, 300, 11);
      int compared = 0;
      for (int i = 0; i < 300; ++i) {
        const int32_t want = reference_sample(row, p, ops::sample_uniform({11, ops::sample_request_hash("req"), i}));
        if (want < 0) continue;
        ++compared;
        EXPECT_EQ(tokens[static_cast<size_t>(i)], want)
            << "vocab=" << vocab << " T=" << p.temperature << " k=" << p.top_k << " p=" << p.top_p << " i=" << i;
      }
      EXPECT_GT(compared, 290);
    }
  }
}

TEST_P(SampleTest, FrequenciesFollowTheDistribution) {
  const int n = 20000;  // one standard deviation of a frequency is at most 0.0036
  const auto f = frequencies(draw(log_of({0.2, 0.5, 0.3}), params(1.0f), n), 3);
  EXPECT_NEAR(f[0], 0.2, 0.015);
  EXPECT_NEAR(f[1], 0.5, 0.015);
  EXPECT_NEAR(f[2], 0.3, 0.015);
  // Temperature 2 flattens p to p^(1/2), renormalised.
  const double s = std::sqrt(0.2) + std::sqrt(0.5) + std::sqrt(0.3);
  const auto g = frequencies(draw(log_of({0.2, 0.5, 0.3}), params(2.0f), n, 8), 3);
  EXPECT_NEAR(g[0], std::sqrt(0.2) / s, 0.015);
  EXPECT_NEAR(g[1], std::sqrt(0.5) / s, 0.015);
  EXPECT_NEAR(g[2], std::sqrt(0.3) / s, 0.015);
}

TEST_P(SampleTest, TopPKeepsOnlyTheNucleus) {
  const auto row = log_of({0.15, 0.5, 0.05, 0.3});
  // Sorted: 0.5 (id 1), 0.3 (id 3), ...: 0.5 < 0.75 <= 0.8, so the nucleus is {1, 3}.
  const auto f = frequencies(draw(row, params(1.0f, 0, 0.75f), 20000), 4);
  EXPECT_EQ(f[0], 0.0);
  EXPECT_EQ(f[2], 0.0);
  EXPECT_NEAR(f[1], 0.5 / 0.8, 0.015);
  EXPECT_NEAR(f[3], 0.3 / 0.8, 0.015);
  for (int32_t tok : draw(row, params(1.0f, 0, 0.01f), 500)) EXPECT_EQ(tok, 1);  // at least one token
}

TEST_P(SampleTest, TopKRenormalises) {
  const auto f = frequencies(draw(log_of({0.1, 0.4, 0.2, 0.3}), params(1.0f, 2), 20000), 4);
  EXPECT_EQ(f[0] + f[2], 0.0);
  EXPECT_NEAR(f[1], 4.0 / 7.0, 0.015);
  EXPECT_NEAR(f[3], 3.0 / 7.0, 0.015);
}

TEST_P(SampleTest, MaskedTokensAreNeverDrawn) {
  const std::vector<float> row{kNegInf, 0.0f, kNegInf, 0.0f, kNegInf};
  for (int32_t tok : draw(row, params(5.0f), 2000)) EXPECT_TRUE(tok == 1 || tok == 3) << tok;
}

TEST_P(SampleTest, SameKeySameTokenWhateverTheBatch) {
  const auto row = random_floats(4097, 73, -3.0f, 3.0f);
  const auto batch = draw(row, params(1.0f, 0, 0.95f), 64, 5);
  CpuContext single(1);
  for (int i = 0; i < 64; i += 9) {
    std::vector<float> one = row;
    const std::vector<SamplingParams> ps{params(1.0f, 0, 0.95f)};
    const std::vector<SampleKey> keys{{5, ops::sample_request_hash("req"), i}};
    std::vector<int32_t> tok(1);
    ops::sample(single.ctx, view_of(one, Shape{1, 4097}), ps, keys, tok);
    EXPECT_EQ(tok[0], batch[static_cast<size_t>(i)]) << "position " << i;
  }
}

TEST_P(SampleTest, RejectsNaNAndBadSettings) {
  EXPECT_THROW(draw({0.0f, std::numeric_limits<float>::quiet_NaN()}, params(1.0f), 1), Error);
  EXPECT_THROW(draw({0.0f, std::numeric_limits<float>::quiet_NaN()}, params(0.0f), 1), Error);
  EXPECT_THROW(draw({kNegInf, kNegInf}, params(1.0f), 1), Error);
  EXPECT_THROW(draw({0.0f, 1.0f}, params(1.0f, -1), 1), Error);
  std::vector<float> logits(4);
  std::vector<SamplingParams> ps(1);
  std::vector<SampleKey> keys(2);
  std::vector<int32_t> out(2);
  EXPECT_THROW(ops::sample(ctx(), view_of(logits, Shape{2, 2}), ps, keys, out), Error);
}

// ---- top_logprobs ----------------------------------------------------------------------------

TEST(TopLogprobsTest, MatchesDoubleLogSoftmax) {
  for (int64_t vocab : {1, 3, 17, 4097}) {
    const auto row = random_floats(static_cast<size_t>(vocab), 81, -20.0f, 20.0f);
    double m = -std::numeric_limits<double>::infinity(), z = 0;
    for (float x : row) m = std::max(m, static_cast<double>(x));
    for (float x : row) z += std::exp(x - m);
    std::vector<int32_t> order(row.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return row[static_cast<size_t>(a)] > row[static_cast<size_t>(b)]; });
    for (int k : {1, 5, static_cast<int>(vocab) + 3}) {
      const auto top = ops::top_logprobs(CpuContext(1).ctx, row, k);
      ASSERT_EQ(top.size(), static_cast<size_t>(std::min<int64_t>(k, vocab)));
      for (size_t i = 0; i < top.size(); ++i) {
        EXPECT_EQ(top[i].first, order[i]);
        EXPECT_NEAR(top[i].second, row[static_cast<size_t>(order[i])] - m - std::log(z), 1e-5);
      }
    }
  }
}

TEST(TopLogprobsTest, TiesGoToLowerIdAndZeroIsEmpty) {
  const std::vector<float> row{0.0f, 2.0f, 1.0f, 2.0f};
  const auto top = ops::top_logprobs(CpuContext(1).ctx, row, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].first, 1);
  EXPECT_EQ(top[1].first, 3);
  EXPECT_EQ(top[2].first, 2);
  const double lse = 2.0 + std::log(2.0 + std::exp(-1.0) + std::exp(-2.0));
  EXPECT_NEAR(top[0].second, 2.0 - lse, 1e-6);
  EXPECT_TRUE(ops::top_logprobs(CpuContext(1).ctx, row, 0).empty());
}

}  // namespace
}  // namespace ps::test
