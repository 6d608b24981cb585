// rope_inv_freq against HF's formulas (hand-derived values), and the rotate-half rope op against a
// double-precision loop.
#include <cmath>
#include <numbers>

#include "kernels/ops.h"
#include "kernels/kernel_test_util.h"

namespace ps::test {
namespace {

void expect_rel_near(double got, double want, double tol, const std::string& what) {
  EXPECT_LE(std::abs(got - want), tol * std::abs(want)) << what << ": got " << got << " want " << want;
}

TEST(RopeInvFreqTest, DefaultIsInversePowersOfTheta) {
  const auto f = ops::rope_inv_freq(10000.0, 8, RopeScaling{});
  ASSERT_EQ(f.size(), 4u);
  // 10000^(-2i/8) = 10^(-i)
  const double want[] = {1.0, 0.1, 0.01, 0.001};
  for (size_t i = 0; i < 4; ++i) expect_rel_near(f[i], want[i], 6e-8, "i=" + std::to_string(i));
}

TEST(RopeInvFreqTest, LinearDividesByFactor) {
  RopeScaling s;
  s.type = RopeScaling::Type::Linear;
  s.factor = 4.0;
  const auto f = ops::rope_inv_freq(10000.0, 8, s);
  const double want[] = {0.25, 0.025, 0.0025, 0.00025};
  for (size_t i = 0; i < 4; ++i) expect_rel_near(f[i], want[i], 6e-8, "i=" + std::to_string(i));
}

// Llama 3.1: theta 500000, head_dim 128, factor 8, low_freq_factor 1, high_freq_factor 4,
// original context 8192. Wavelengths below 8192/4 = 2048 are kept, above 8192/1 are divided by 8,
// and i = 29..34 (wavelengths 2402..6695) are blended.
TEST(RopeInvFreqTest, Llama3MatchesHandDerivedValues) {
  RopeScaling s;
  s.type = RopeScaling::Type::Llama3;
  s.factor = 8.0;
  s.low_freq_factor = 1.0;
  s.high_freq_factor = 4.0;
  s.original_max_position_embeddings = 8192;
  const auto f = ops::rope_inv_freq(500000.0, 128, s);
  ASSERT_EQ(f.size(), 64u);

  // Values worked out by hand (in double) from the formula in HF's _compute_llama3_parameters.
  expect_rel_near(f[0], 1.0, 0, "i=0 (high frequency, unchanged)");
  expect_rel_near(f[20], 0.016560440080994446, 1e-7, "i=20 (unchanged)");
  expect_rel_near(f[29], 0.002166570763503359, 1e-7, "i=29 (blend, smooth 0.8036)");
  expect_rel_near(f[30], 0.0013718935677611381, 1e-7, "i=30 (blend, smooth 0.5928)");
  expect_rel_near(f[34], 1.7850781276799638e-04, 1e-7, "i=34 (blend, smooth 0.0745)");
  expect_rel_near(f[35], 9.556212353964683e-05, 1e-7, "i=35 (low frequency, / 8)");
  expect_rel_near(f[63], 3.068925988914511e-07, 1e-7, "i=63 (low frequency, / 8)");

  // And every entry, by the formula written out again here.
  for (int i = 0; i < 64; ++i) {
    const double base = std::pow(500000.0, -2.0 * i / 128.0);
    const double wavelen = 2 * std::numbers::pi / base;
    double want = base;
    if (wavelen > 8192.0) {
      want = base / 8.0;
    } else if (wavelen >= 2048.0) {
      const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      want = (1 - smooth) * base / 8.0 + smooth * base;
    }
    expect_rel_near(f[static_cast<size_t>(i)], want, 1e-7, "i=" + std::to_string(i));
  }
}

TEST(RopeInvFreqTest, RejectsBadParameters) {
  EXPECT_THROW(ops::rope_inv_freq(10000.0, 7, RopeScaling{}), Error);
  EXPECT_THROW(ops::rope_inv_freq(0.0, 8, RopeScaling{}), Error);
  RopeScaling s;
  s.type = RopeScaling::Type::Llama3;
  s.low_freq_factor = 4.0;
  s.high_freq_factor = 1.0;
  EXPECT_THROW(ops::rope_inv_freq(10000.0, 8, s), Error);
}

class RopeTest : public ThreadsTest {};
INSTANTIATE_THREADS(RopeTest);

std::vector<double> rope_ref(const std::vector<float>& x, const std::vector<int32_t>& pos,
                             const std::vector<float>& inv_freq, int64_t heads, int64_t head_dim) {
  std::vector<double> out(x.begin(), x.end());
  const auto half = static_cast<int64_t>(inv_freq.size());
  for (size_t i = 0; i < pos.size(); ++i)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t j = 0; j < half; ++j) {
        const double a = pos[i] * static_cast<double>(inv_freq[static_cast<size_t>(j)]);
        const size_t base = (i * static_cast<size_t>(heads) + static_cast<size_t>(h)) * static_cast<size_t>(head_dim);
        const double x1 = x[base + static_cast<size_t>(j)], x2 = x[base + static_cast<size_t>(j + half)];
        out[base + static_cast<size_t>(j)] = x1 * std::cos(a) - x2 * std::sin(a);
        out[base + static_cast<size_t>(j + half)] = x2 * std::cos(a) + x1 * std::sin(a);
      }
  return out;
}

TEST_P(RopeTest, MatchesReference) {
  struct Case {
    int64_t n, heads, head_dim, rotary_dim;
  };
  // Full rotation, partial rotation (the tail passes through), odd head counts, many rows.
  const Case cases[] = {{1, 1, 2, 2}, {3, 3, 6, 6}, {5, 2, 34, 34}, {4, 3, 17, 8}, {64, 4, 64, 64}, {17, 1, 128, 32}};
  for (const Case& c : cases) {
    std::vector<int32_t> pos;
    for (int64_t i = 0; i < c.n; ++i) pos.push_back(static_cast<int32_t>((i * 7919) % 131072));
    pos[0] = c.n > 1 ? 0 : 100000;  // position 0 is the identity; 100000 tests large angles
    const auto inv_freq = ops::rope_inv_freq(10000.0, c.rotary_dim, RopeScaling{});
    auto x = random_floats(static_cast<size_t>(c.n * c.heads * c.head_dim), 41);
    const auto ref = rope_ref(x, pos, inv_freq, c.heads, c.head_dim);
    ops::rope(ctx(), view_of(x, Shape{c.n, c.heads, c.head_dim}), pos, inv_freq);
    EXPECT_LT(rel_error(x, ref), 1e-6) << "n=" << c.n << " heads=" << c.heads << " head_dim=" << c.head_dim;
  }
}

TEST_P(RopeTest, RejectsMismatches) {
  auto x = random_floats(2 * 2 * 4, 42);
  const auto inv_freq = ops::rope_inv_freq(10000.0, 4, RopeScaling{});
  const std::vector<int32_t> one{0}, two{0, 1}, negative{0, -1};
  EXPECT_THROW(ops::rope(ctx(), view_of(x, Shape{2, 2, 4}), one, inv_freq), Error);
  EXPECT_THROW(ops::rope(ctx(), view_of(x, Shape{2, 2, 4}), negative, inv_freq), Error);
  const auto too_many = ops::rope_inv_freq(10000.0, 8, RopeScaling{});
  EXPECT_THROW(ops::rope(ctx(), view_of(x, Shape{2, 2, 4}), two, too_many), Error);
}

}  // namespace
}  // namespace ps::test
