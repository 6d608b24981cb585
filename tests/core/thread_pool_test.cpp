// ThreadPool: every index runs exactly once, chunks respect the grain, exceptions reach the
// caller, nested and concurrent loops do not deadlock; threads_resolve reads the environment.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/core/thread_pool.h"

namespace ps {
namespace {

TEST(ThreadPoolTest, CoversEveryIndexOnceInContiguousChunks) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 7, 1000, 4097})
      for (int64_t grain : {1, 3, 100, 5000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::mutex mu;
        std::vector<std::pair<int64_t, int64_t>> chunks;
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
          std::lock_guard<std::mutex> lock(mu);
          chunks.emplace_back(b, e);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n=" << n << " i=" << i;
        if (n == 0) {
          EXPECT_TRUE(chunks.empty());
          continue;
        }
        EXPECT_LE(chunks.size(), static_cast<size_t>(threads));
        for (const auto& [b, e] : chunks) {
          EXPECT_LT(b, e);
          if (chunks.size() > 1) {
            EXPECT_GE(e - b, grain) << "n=" << n << " grain=" << grain;
          }
        }
      }
  }
}

TEST(ThreadPoolTest, UsesSeveralThreadsWhenThereIsWork) {
  ThreadPool pool(3);
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> arrived{0};
  pool.parallel_for(3, 1, [&](int64_t, int64_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    // Each chunk waits for the others: this only finishes if three threads run at once.
    arrived++;
    while (arrived.load() < 3) std::this_thread::yield();
  });
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 1u);  // the caller takes a chunk
}

TEST(ThreadPoolTest, WorkerExceptionReachesCallerAndPoolSurvives) {
  ThreadPool pool(2);
  for (int64_t bad : {0, 99}) {  // a chunk of the caller, then one of the worker
    try {
      pool.parallel_for(100, 1, [&](int64_t b, int64_t e) {
        if (b <= bad && bad < e) fail_runtime("boom at ", bad);
      });
      FAIL() << "no exception";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "boom at " + std::to_string(bad));
    }
  }
  EXPECT_THROW(pool.parallel_for(100, 1, [](int64_t, int64_t) { throw std::logic_error("x"); }), std::logic_error);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), 4950);
}

TEST(ThreadPoolTest, NestedLoopRunsInline) {
  ThreadPool pool(2);
  std::atomic<int64_t> count{0};
  pool.parallel_for(4, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      pool.parallel_for(10, 1, [&](int64_t b2, int64_t e2) { count += e2 - b2; });
  });
  EXPECT_EQ(count.load(), 40);
}

TEST(ThreadPoolTest, ConcurrentCallersAreSerialised) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  auto work = [&] {
    for (int r = 0; r < 200; ++r)
      pool.parallel_for(64, 1, [&](int64_t b, int64_t e) { total += e - b; });
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2 * 200 * 64);
}

TEST(ThreadPoolTest, FreeFunctionRunsInlineWithoutPool) {
  std::vector<std::pair<int64_t, int64_t>> calls;
  parallel_for(nullptr, 10, 1, [&](int64_t b, int64_t e) { calls.emplace_back(b, e); });
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], std::make_pair(int64_t{0}, int64_t{10}));
  calls.clear();
  parallel_for(nullptr, 0, 1, [&](int64_t b, int64_t e) { calls.emplace_back(b, e); });
  EXPECT_TRUE(calls.empty());
}

// Sets PIPESHARD_NUM_THREADS for one scope.
class EnvVar {
 public:
  explicit EnvVar(const char* value) {
    if (const char* old = std::getenv(kName)) {
      old_ = old;
      had_ = true;
    }
    if (value) {
      setenv(kName, value, 1);
    } else {
      unsetenv(kName);
    }
  }
  ~EnvVar() {
    if (had_) {
      setenv(kName, old_.c_str(), 1);
    } else {
      unsetenv(kName);
    }
  }

 private:
  static constexpr const char* kName = "PIPESHARD_NUM_THREADS";
  std::string old_;
  bool had_ = false;
};

TEST(ThreadsResolveTest, RequestedThenEnvironmentThenCores) {
  {
    EnvVar env("3");
    EXPECT_EQ(threads_resolve(5), 5);
    EXPECT_EQ(threads_resolve(0), 3);
  }
  {
    EnvVar env(nullptr);
    const unsigned hw = std::thread::hardware_concurrency();
    EXPECT_EQ(threads_resolve(0), hw ? static_cast<int>(hw) : 1);
  }
}

TEST(ThreadsResolveTest, BadEnvironmentIsInputErrorNamingTheVariable) {
  for (const char* bad : {"abc", "0", "-2", "3x", "99999999999"}) {
    EnvVar env(bad);
    try {
      threads_resolve(0);
      FAIL() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
      EXPECT_NE(std::string(e.what()).find("PIPESHARD_NUM_THREADS"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace ps
