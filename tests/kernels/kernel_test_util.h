// Helpers for the op tests: a CPU OpContext with or without a thread pool, deterministic random
// data, and the error measure every op test uses (max|got - ref| / max|ref| against a reference
// computed in double by the test itself).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/common/backend.h"
#include "kernels/common/op_context.h"
#include "runtime/core/tensor.h"
#include "runtime/core/thread_pool.h"

namespace ps::test {

// The CPU backend with `threads` pool threads (1 = no pool: ops run on the caller).
struct CpuContext {
  std::unique_ptr<ThreadPool> pool;
  Workspace workspace;
  OpContext ctx;

  explicit CpuContext(int threads) {
    if (threads > 1) pool = std::make_unique<ThreadPool>(threads);
    ctx.backend = &cpu_backend();
    ctx.pool = pool.get();
    ctx.workspace = &workspace;
  }
};

// Uniform floats in [lo, hi) from splitmix64: the same values on every platform and library.
inline std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(n);
  uint64_t s = seed;
  for (float& x : v) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    x = lo + (hi - lo) * static_cast<float>(static_cast<double>(z >> 40) * 0x1.0p-24);
  }
  return v;
}

inline TensorView view_of(std::vector<float>& v, Shape s) {
  TensorView t;
  t.data = v.data();
  t.dtype = DType::F32;
  t.shape = s;
  EXPECT_EQ(static_cast<size_t>(s.numel()), v.size()) << "test bug: shape " << s.str();
  return t;
}

// max|got - ref| / max|ref| (absolute when the reference is all zeros).
inline double rel_error(const std::vector<float>& got, const std::vector<double>& ref) {
  EXPECT_EQ(got.size(), ref.size());
  double max_ref = 0.0, max_diff = 0.0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(ref[i]));
    const double d = std::abs(static_cast<double>(got[i]) - ref[i]);
    max_diff = std::isnan(d) ? std::numeric_limits<double>::infinity() : std::max(max_diff, d);
  }
  return max_ref > 0.0 ? max_diff / max_ref : max_diff;
}

// Op tests run with no pool and with a pool of 2 threads.
class ThreadsTest : public ::testing::TestWithParam<int> {
 protected:
  CpuContext cpu{GetParam()};
  const OpContext& ctx() const { return cpu.ctx; }
};

inline std::string threads_name(const ::testing::TestParamInfo<int>& info) {
  return "threads" + std::to_string(info.param);
}

}  // namespace ps::test

// One line per test file: INSTANTIATE_THREADS(LinearTest);
#define INSTANTIATE_THREADS(Suite) \
  INSTANTIATE_TEST_SUITE_P(Threads, Suite, ::testing::Values(1, 2), ::ps::test::threads_name)
