// softmax and log_softmax against double loops, including rows that would overflow exp.
#include <cmath>
#include <limits>

#include "kernels/ops.h"
#include "kernels/kernel_test_util.h"

namespace ps::test {
namespace {

class SoftmaxTest : public ThreadsTest {};
INSTANTIATE_THREADS(SoftmaxTest);

// log_softmax in double; softmax is its exp.
std::vector<double> log_softmax_ref(const std::vector<float>& x, int64_t d) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / static_cast<size_t>(d); ++r) {
    const size_t o = r * static_cast<size_t>(d);
    double m = x[o];
    for (int64_t j = 0; j < d; ++j) m = std::max(m, static_cast<double>(x[o + static_cast<size_t>(j)]));
    double z = 0;
    for (int64_t j = 0; j < d; ++j) z += std::exp(x[o + static_cast<size_t>(j)] - m);
    for (int64_t j = 0; j < d; ++j) out[o + static_cast<size_t>(j)] = x[o + static_cast<size_t>(j)] - m - std::log(z);
  }
  return out;
}

TEST_P(SoftmaxTest, SoftmaxMatchesReference) {
  for (int64_t d : {1, 3, 17, 4097}) {
    // Logits around 500 overflow a naive exp in f32.
    auto x = random_floats(static_cast<size_t>(7 * d), 61, 480.0f, 520.0f);
    auto ref = log_softmax_ref(x, d);
    for (double& v : ref) v = std::exp(v);
    ops::softmax(ctx(), view_of(x, Shape{7, d}));
    EXPECT_LT(rel_error(x, ref), 1e-5) << "d=" << d;
    double row_sum = 0;
    for (int64_t j = 0; j < d; ++j) row_sum += x[static_cast<size_t>(j)];
    EXPECT_NEAR(row_sum, 1.0, 1e-5) << "d=" << d;
  }
}

TEST_P(SoftmaxTest, LogSoftmaxMatchesReference) {
  for (int64_t d : {1, 3, 17, 4097}) {
    auto x = random_floats(static_cast<size_t>(7 * d), 62, -30.0f, 30.0f);
    const auto ref = log_softmax_ref(x, d);
    ops::log_softmax(ctx(), view_of(x, Shape{7, d}));
    EXPECT_LT(rel_error(x, ref), 1e-6) << "d=" << d;
  }
}

TEST_P(SoftmaxTest, MaskedEntriesGetZero) {
  std::vector<float> x{1.0f, -std::numeric_limits<float>::infinity(), 1.0f};
  ops::softmax(ctx(), view_of(x, Shape{1, 3}));
  EXPECT_EQ(x, (std::vector<float>{0.5f, 0.0f, 0.5f}));
}

}  // namespace
}  // namespace ps::test
