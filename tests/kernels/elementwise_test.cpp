// add, gelu_tanh, relu and silu_mul against double-precision loops (the mlp activations are in
// shape_ops_test.cpp).
#include <cmath>
#include <numbers>

#include "kernels/ops.h"
#include "kernels/kernel_test_util.h"

namespace ps::test {
namespace {

constexpr int64_t kRows = 9;  // 9 x 4097 elements is enough work to be split over two threads
const int64_t kDims[] = {1, 3, 17, 4097};

double gelu_ref(double x) { return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x))); }
double silu_ref(double g) { return g / (1.0 + std::exp(-g)); }

class ElementwiseTest : public ThreadsTest {};
INSTANTIATE_THREADS(ElementwiseTest);

TEST_P(ElementwiseTest, AddMatchesReferenceAndMayAlias) {
  for (int64_t d : kDims) {
    const Shape s{kRows, d};
    auto a = random_floats(static_cast<size_t>(kRows * d), 1);
    auto b = random_floats(a.size(), 2, -3.0f, 3.0f);
    std::vector<double> ref(a.size());
    for (size_t i = 0; i < a.size(); ++i) ref[i] = static_cast<double>(a[i]) + b[i];
    std::vector<float> out(a.size());
    ops::add(ctx(), view_of(a, s), view_of(b, s), view_of(out, s));
    EXPECT_LT(rel_error(out, ref), 1e-7) << "d=" << d;
    ops::add(ctx(), view_of(a, s), view_of(b, s), view_of(a, s));  // out aliases a
    EXPECT_EQ(a, out) << "d=" << d;
  }
}

TEST_P(ElementwiseTest, GeluTanhMatchesReference) {
  for (int64_t d : kDims) {
    auto x = random_floats(static_cast<size_t>(kRows * d), 3, -6.0f, 6.0f);
    std::vector<double> ref(x.size());
    for (size_t i = 0; i < x.size(); ++i) ref[i] = gelu_ref(x[i]);
    ops::gelu_tanh(ctx(), view_of(x, Shape{kRows, d}));
    EXPECT_LT(rel_error(x, ref), 1e-6) << "d=" << d;
  }
}

TEST_P(ElementwiseTest, GeluTanhKnownValues) {
  std::vector<float> x{0.0f, 1.0f, -1.0f, 10.0f, -10.0f};
  ops::gelu_tanh(ctx(), view_of(x, Shape{5}));
  EXPECT_EQ(x[0], 0.0f);
  EXPECT_NEAR(x[1], 0.8411920, 1e-6);  // gelu_new(1) = 0.5 (1 + tanh(sqrt(2/pi) 1.044715))
  EXPECT_NEAR(x[2], -0.1588080, 1e-6);
  EXPECT_NEAR(x[3], 10.0, 1e-6);
  EXPECT_NEAR(x[4], 0.0, 1e-6);
}

TEST_P(ElementwiseTest, ReluMatchesReference) {
  for (int64_t d : kDims) {
    auto x = random_floats(static_cast<size_t>(kRows * d), 4);
    std::vector<double> ref(x.size());
    for (size_t i = 0; i < x.size(); ++i) ref[i] = x[i] > 0 ? x[i] : 0.0;
    ops::relu(ctx(), view_of(x, Shape{kRows, d}));
    EXPECT_EQ(rel_error(x, ref), 0.0) << "d=" << d;
  }
}

TEST_P(ElementwiseTest, SiluMulMatchesReferenceAndMayAliasGate) {
  for (int64_t d : kDims) {
    const Shape s{kRows, d};
    auto g = random_floats(static_cast<size_t>(kRows * d), 5, -8.0f, 8.0f);
    auto u = random_floats(g.size(), 6, -2.0f, 2.0f);
    std::vector<double> ref(g.size());
    for (size_t i = 0; i < g.size(); ++i) ref[i] = silu_ref(g[i]) * u[i];
    ops::silu_mul(ctx(), view_of(g, s), view_of(u, s), view_of(g, s));
    EXPECT_LT(rel_error(g, ref), 1e-6) << "d=" << d;
  }
}

TEST_P(ElementwiseTest, SiluMulLimits) {
  std::vector<float> g{-1000.0f, 1000.0f, 0.0f}, u{1.0f, 2.0f, 5.0f}, out(3);
  ops::silu_mul(ctx(), view_of(g, Shape{3}), view_of(u, Shape{3}), view_of(out, Shape{3}));
  EXPECT_EQ(out[0], 0.0f);  // no NaN from exp overflow
  EXPECT_EQ(out[1], 2000.0f);
  EXPECT_EQ(out[2], 0.0f);
}

TEST_P(ElementwiseTest, ShapeMismatchNamesOpAndTensor) {
  std::vector<float> a(6), b(4), out(6);
  try {
    ops::add(ctx(), view_of(a, Shape{2, 3}), view_of(b, Shape{2, 2}), view_of(out, Shape{2, 3}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("add: b has shape [2, 2], expected [2, 3]"), std::string::npos) << e.what();
  }
  std::vector<float> g(6);
  EXPECT_THROW(ops::silu_mul(ctx(), view_of(g, Shape{6}), view_of(a, Shape{2, 3}), view_of(out, Shape{6})), Error);
}

TEST_P(ElementwiseTest, RejectsNonF32) {
  std::vector<float> storage(4);
  TensorView half = view_of(storage, Shape{4});
  half.dtype = DType::F16;
  try {
    ops::relu(ctx(), half);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("relu: x is f16"), std::string::npos) << e.what();
  }
  TensorView gpu = view_of(storage, Shape{4});
  gpu.device = Device::cuda(0);
  EXPECT_THROW(ops::gelu_tanh(ctx(), gpu), Error);
}

}  // namespace
}  // namespace ps::test
