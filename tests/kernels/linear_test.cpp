// linear: both weight layouts, with and without bias, one row (sgemv) and many (sgemm).
#include "kernels/ops.h"
#include "kernels/kernel_test_util.h"

namespace ps::test {
namespace {

using ops::WeightLayout;

class LinearTest : public ThreadsTest {};
INSTANTIATE_THREADS(LinearTest);

// y[r, o] = sum_i x[r, i] * W(o, i) + b[o], W read from either layout.
std::vector<double> linear_ref(const std::vector<float>& x, const std::vector<float>& w, WeightLayout layout,
                               const std::vector<float>& b, int64_t n, int64_t in, int64_t out) {
  std::vector<double> y(static_cast<size_t>(n * out));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b.empty() ? 0.0 : b[static_cast<size_t>(o)];
      for (int64_t i = 0; i < in; ++i) {
        const int64_t wi = layout == WeightLayout::OutIn ? o * in + i : i * out + o;
        s += static_cast<double>(x[static_cast<size_t>(r * in + i)]) * w[static_cast<size_t>(wi)];
      }
      y[static_cast<size_t>(r * out + o)] = s;
    }
  return y;
}

struct Case {
  int64_t n, in, out;
};

TEST_P(LinearTest, MatchesReference) {
  const Case cases[] = {{1, 1, 1}, {1, 17, 3}, {1, 4097, 17}, {1, 64, 4097}, {3, 3, 17},
                        {17, 17, 3}, {5, 4097, 7}, {9, 33, 4097}, {2, 1, 1}};
  for (const Case& c : cases)
    for (WeightLayout layout : {WeightLayout::OutIn, WeightLayout::InOut})
      for (bool with_bias : {false, true}) {
        auto x = random_floats(static_cast<size_t>(c.n * c.in), 31);
        auto w = random_floats(static_cast<size_t>(c.in * c.out), 32);
        std::vector<float> b = with_bias ? random_floats(static_cast<size_t>(c.out), 33, -5.0f, 5.0f)
                                         : std::vector<float>{};
        const Shape ws = layout == WeightLayout::OutIn ? Shape{c.out, c.in} : Shape{c.in, c.out};
        std::vector<float> y(static_cast<size_t>(c.n * c.out), 99.0f);
        ops::linear(ctx(), view_of(x, Shape{c.n, c.in}), view_of(w, ws), layout,
                    with_bias ? view_of(b, Shape{c.out}) : TensorView{}, view_of(y, Shape{c.n, c.out}));
        EXPECT_LT(rel_error(y, linear_ref(x, w, layout, b, c.n, c.in, c.out)), 1e-5)
            << "n=" << c.n << " in=" << c.in << " out=" << c.out
            << " layout=" << (layout == WeightLayout::OutIn ? "OutIn" : "InOut") << " bias=" << with_bias;
      }
}

TEST_P(LinearTest, OneRowAgreesWithBatchRow) {
  // The decode path (sgemv) and the prefill path (sgemm) compute the same function.
  const int64_t in = 65, out = 31;
  auto x = random_floats(static_cast<size_t>(4 * in), 34);
  auto w = random_floats(static_cast<size_t>(in * out), 35);
  std::vector<float> all(static_cast<size_t>(4 * out)), one(static_cast<size_t>(out));
  ops::linear(ctx(), view_of(x, Shape{4, in}), view_of(w, Shape{out, in}), WeightLayout::OutIn, {},
              view_of(all, Shape{4, out}));
  std::vector<float> row2(x.begin() + 2 * in, x.begin() + 3 * in);
  ops::linear(ctx(), view_of(row2, Shape{1, in}), view_of(w, Shape{out, in}), WeightLayout::OutIn, {},
              view_of(one, Shape{1, out}));
  std::vector<double> expected(all.begin() + 2 * out, all.begin() + 3 * out);
  EXPECT_LT(rel_error(one, expected), 1e-6);
}

TEST_P(LinearTest, RejectsMismatchedShapesAndAliasing) {
  auto x = random_floats(2 * 4, 36);
  auto w = random_floats(4 * 3, 37);
  std::vector<float> y(2 * 3);
  try {
    ops::linear(ctx(), view_of(x, Shape{2, 4}), view_of(w, Shape{4, 3}), WeightLayout::OutIn, {},
                view_of(y, Shape{2, 3}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("linear: weight [4, 3] [out, in] does not take 4 input features"),
              std::string::npos)
        << e.what();
  }
  std::vector<float> bad_bias(4);
  EXPECT_THROW(ops::linear(ctx(), view_of(x, Shape{2, 4}), view_of(w, Shape{4, 3}), WeightLayout::InOut,
                           view_of(bad_bias, Shape{4}), view_of(y, Shape{2, 3})),
               Error);
  auto sq = random_floats(4 * 4, 38);
  std::vector<float> xy(4);
  EXPECT_THROW(ops::linear(ctx(), view_of(xy, Shape{1, 4}), view_of(sq, Shape{4, 4}), WeightLayout::OutIn, {},
                           view_of(xy, Shape{1, 4})),
               Error);
}

}  // namespace
}  // namespace ps::test
