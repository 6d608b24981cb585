// gather_rows, copy_columns and the mlp activations against naive loops.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/owned_tensor.h"
#include "kernels/common/backend.h"
#include "kernels/ops.h"
#include "runtime/core/thread_pool.h"

namespace ps {
namespace {

OwnedTensor random_tensor(int64_t rows, int64_t cols, unsigned seed) {
  OwnedTensor t(Shape{rows, cols});
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  for (int64_t i = 0; i < t.view.numel(); ++i) t.f32()[i] = u(gen);
  return t;
}

OpContext cpu_ctx(ThreadPool* pool) { return OpContext{&backend_get(Device::cpu()), nullptr, pool, nullptr}; }

TEST(GatherRows, PicksRowsInOrderWithRepeats) {
  const OwnedTensor src = random_tensor(17, 3, 1);
  const std::vector<int32_t> rows = {16, 0, 5, 5};
  OwnedTensor dst(Shape{4, 3});
  ops::gather_rows(cpu_ctx(nullptr), src.view, rows, dst.view);
  for (size_t i = 0; i < rows.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(dst.f32()[i * 3 + c], src.f32()[rows[i] * 3 + c]);
}

TEST(GatherRows, RowOutOfRangeIsAnError) {
  const OwnedTensor src = random_tensor(3, 2, 2);
  OwnedTensor dst(Shape{1, 2});
  const std::vector<int32_t> rows = {3};
  EXPECT_THROW(ops::gather_rows(cpu_ctx(nullptr), src.view, rows, dst.view), Error);
}

TEST(CopyColumns, SplitsFusedProjection) {
  const int64_t rows = 5, h = 17;
  const OwnedTensor qkv = random_tensor(rows, 3 * h, 3);
  for (int part = 0; part < 3; ++part) {
    OwnedTensor dst(Shape{rows, h});
    ops::copy_columns(cpu_ctx(nullptr), qkv.view, part * h, dst.view);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < h; ++c) EXPECT_EQ(dst.f32()[r * h + c], qkv.f32()[r * 3 * h + part * h + c]);
  }
  OwnedTensor too_wide(Shape{rows, h + 1});
  EXPECT_THROW(ops::copy_columns(cpu_ctx(nullptr), qkv.view, 2 * h, too_wide.view), Error);
}

struct ActivationCase {
  const char* name;
  void (*op)(const OpContext&, const TensorView&);
  double (*ref)(double);
};

class ActivationTest : public ::testing::TestWithParam<ActivationCase> {};

TEST_P(ActivationTest, MatchesDoubleReference) {
  ThreadPool pool(2);
  for (int64_t n : {1, 3, 17, 4097}) {
    OwnedTensor x = random_tensor(1, n, static_cast<unsigned>(n));
    std::vector<double> ref(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ref[static_cast<size_t>(i)] = GetParam().ref(x.f32()[i]);
    GetParam().op(cpu_ctx(&pool), x.view);
    for (int64_t i = 0; i < n; ++i)
      EXPECT_NEAR(x.f32()[i], ref[static_cast<size_t>(i)], 1e-6 + 1e-6 * std::fabs(ref[static_cast<size_t>(i)]))
          << GetParam().name << " n=" << n << " i=" << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Mlp, ActivationTest,
    ::testing::Values(ActivationCase{"gelu_erf", ops::gelu_erf, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
                      ActivationCase{"silu", ops::silu, [](double v) { return v / (1 + std::exp(-v)); }},
                      ActivationCase{"tanh", ops::tanh_act, [](double v) { return std::tanh(v); }}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ps
