// layer_norm and rms_norm against double-precision loops.
#include <cmath>

#include "kernels/ops.h"
#include "kernels/kernel_test_util.h"

namespace ps::test {
namespace {

constexpr int64_t kRows = 9;
const int64_t kDims[] = {1, 3, 17, 4097};

class NormTest : public ThreadsTest {};
INSTANTIATE_THREADS(NormTest);

std::vector<double> layer_norm_ref(const std::vector<float>& x, const std::vector<float>& g,
                                   const std::vector<float>& b, int64_t d, double eps) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / static_cast<size_t>(d); ++r) {
    const float* xr = &x[r * static_cast<size_t>(d)];
    double mean = 0, var = 0;
    for (int64_t j = 0; j < d; ++j) mean += xr[j];
    mean /= static_cast<double>(d);
    for (int64_t j = 0; j < d; ++j) var += (xr[j] - mean) * (xr[j] - mean);
    var /= static_cast<double>(d);
    for (int64_t j = 0; j < d; ++j)
      out[r * static_cast<size_t>(d) + static_cast<size_t>(j)] = (xr[j] - mean) / std::sqrt(var + eps) * g[static_cast<size_t>(j)] + b[static_cast<size_t>(j)];
  }
  return out;
}

std::vector<double> rms_norm_ref(const std::vector<float>& x, const std::vector<float>& w, int64_t d, double eps) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / static_cast<size_t>(d); ++r) {
    const float* xr = &x[r * static_cast<size_t>(d)];
    double ms = 0;
    for (int64_t j = 0; j < d; ++j) ms += static_cast<double>(xr[j]) * xr[j];
    ms /= static_cast<double>(d);
    for (int64_t j = 0; j < d; ++j)
      out[r * static_cast<size_t>(d) + static_cast<size_t>(j)] = xr[j] / std::sqrt(ms + eps) * w[static_cast<size_t>(j)];
  }
  return out;
}

TEST_P(NormTest, LayerNormMatchesReference) {
  for (int64_t d : kDims) {
    const Shape s{kRows, d};
    // An offset of 50 makes a one-pass E[x^2] - E[x]^2 in f32 lose most digits; two passes do not.
    auto x = random_floats(static_cast<size_t>(kRows * d), 11, 49.0f, 51.0f);
    auto g = random_floats(static_cast<size_t>(d), 12, 0.5f, 1.5f);
    auto b = random_floats(static_cast<size_t>(d), 13);
    const auto ref = layer_norm_ref(x, g, b, d, 1e-5);
    std::vector<float> out(x.size());
    ops::layer_norm(ctx(), view_of(x, s), view_of(g, Shape{d}), view_of(b, Shape{d}), 1e-5f, view_of(out, s));
    EXPECT_LT(rel_error(out, ref), 1e-5) << "d=" << d;
    ops::layer_norm(ctx(), view_of(x, s), view_of(g, Shape{d}), view_of(b, Shape{d}), 1e-5f, view_of(x, s));
    EXPECT_EQ(x, out) << "in place, d=" << d;
  }
}

TEST_P(NormTest, LayerNormOfConstantRowIsBeta) {
  std::vector<float> x(8, 3.0f), g(8, 2.0f), b = random_floats(8, 14), out(8);
  ops::layer_norm(ctx(), view_of(x, Shape{1, 8}), view_of(g, Shape{8}), view_of(b, Shape{8}), 1e-5f,
                  view_of(out, Shape{1, 8}));
  EXPECT_EQ(out, b);
}

TEST_P(NormTest, RmsNormMatchesReference) {
  for (int64_t d : kDims) {
    const Shape s{kRows, d};
    auto x = random_floats(static_cast<size_t>(kRows * d), 15, -4.0f, 4.0f);
    auto w = random_floats(static_cast<size_t>(d), 16, 0.5f, 1.5f);
    const auto ref = rms_norm_ref(x, w, d, 1e-6);
    std::vector<float> out(x.size());
    ops::rms_norm(ctx(), view_of(x, s), view_of(w, Shape{d}), 1e-6f, view_of(out, s));
    EXPECT_LT(rel_error(out, ref), 1e-5) << "d=" << d;
    ops::rms_norm(ctx(), view_of(x, s), view_of(w, Shape{d}), 1e-6f, view_of(x, s));
    EXPECT_EQ(x, out) << "in place, d=" << d;
  }
}

TEST_P(NormTest, RmsNormPerHeadOverLastDim) {
  // [rows, heads, head_dim] normalises each head separately (the last dimension is the feature).
  auto x = random_floats(2 * 3 * 5, 17);
  auto w = random_floats(5, 18, 0.5f, 1.5f);
  const auto ref = rms_norm_ref(x, w, 5, 1e-6);
  std::vector<float> out(x.size());
  ops::rms_norm(ctx(), view_of(x, Shape{2, 3, 5}), view_of(w, Shape{5}), 1e-6f, view_of(out, Shape{2, 3, 5}));
  EXPECT_LT(rel_error(out, ref), 1e-6);
}

TEST_P(NormTest, WeightShapeMismatchIsNamed) {
  std::vector<float> x(16), w(7), out(16);
  try {
    ops::rms_norm(ctx(), view_of(x, Shape{2, 8}), view_of(w, Shape{7}), 1e-6f, view_of(out, Shape{2, 8}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rms_norm: weight has shape [7], expected [8]"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ps::test
