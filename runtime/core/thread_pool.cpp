#include "runtime/core/thread_pool.h"

#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/core/error.h"

namespace ps {

namespace {

// Set while a thread runs a chunk of some pool's loop. A parallel_for issued from inside a chunk
// runs inline: the pool's threads are all busy with the outer loop, so waiting for them would
// deadlock.
thread_local bool tl_in_parallel_region = false;

constexpr int kMaxThreads = 1024;

}  // namespace

// One loop at a time: the caller publishes the job under `mu` and bumps `generation`; worker w
// (1-based) runs chunk w when w < chunks; the caller runs chunk 0, then waits for `pending` to
// reach zero. Chunk bounds are a pure function of (n, chunks), so the split is deterministic.
struct ThreadPool::Impl {
  std::vector<std::thread> workers;
  std::mutex run_mu;  // serialises parallel_for calls from different threads

  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  uint64_t generation = 0;
  bool stop = false;
  const std::function<void(int64_t, int64_t)>* job = nullptr;
  int64_t n = 0;
  int64_t chunks = 0;
  int pending = 0;
  std::exception_ptr error;  // the first exception thrown by a worker chunk

  static int64_t chunk_begin(int64_t n, int64_t chunks, int64_t c) { return n * c / chunks; }

  void worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int64_t, int64_t)>* f = nullptr;
      int64_t begin = 0, end = 0;
      {
        std::unique_lock<std::mutex> lock(mu);
        work_cv.wait(lock, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
        if (index >= chunks) continue;  // this loop needs fewer threads
        f = job;
        begin = chunk_begin(n, chunks, index);
        end = chunk_begin(n, chunks, index + 1);
      }
      std::exception_ptr caught;
      tl_in_parallel_region = true;
      try {
        (*f)(begin, end);
      } catch (...) {
        caught = std::current_exception();
      }
      tl_in_parallel_region = false;
      std::lock_guard<std::mutex> lock(mu);
      if (caught && !error) error = caught;
      if (--pending == 0) done_cv.notify_one();
    }
  }
};

ThreadPool::ThreadPool(int threads) : impl_(std::make_unique<Impl>()) {
  PS_CHECK(threads >= 1 && threads <= kMaxThreads, "thread pool size ", threads);
  impl_->workers.reserve(static_cast<size_t>(threads - 1));
  for (int i = 1; i < threads; ++i) impl_->workers.emplace_back([this, i] { impl_->worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->work_cv.notify_all();
  for (std::thread& t : impl_->workers) t.join();
}

int ThreadPool::size() const { return static_cast<int>(impl_->workers.size()) + 1; }

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  const int64_t by_grain = n / (grain > 1 ? grain : 1);
  const int64_t chunks = by_grain < 1 ? 1 : (by_grain < size() ? by_grain : size());
  if (chunks == 1 || tl_in_parallel_region) {
    f(0, n);
    return;
  }

  Impl& p = *impl_;
  std::lock_guard<std::mutex> run_lock(p.run_mu);
  {
    std::lock_guard<std::mutex> lock(p.mu);
    p.job = &f;
    p.n = n;
    p.chunks = chunks;
    p.pending = static_cast<int>(chunks - 1);
    p.error = nullptr;
    ++p.generation;
  }
  p.work_cv.notify_all();

  std::exception_ptr caught;
  tl_in_parallel_region = true;
  try {
    f(0, Impl::chunk_begin(n, chunks, 1));
  } catch (...) {
    caught = std::current_exception();
  }
  tl_in_parallel_region = false;

  std::unique_lock<std::mutex> lock(p.mu);
  p.done_cv.wait(lock, [&] { return p.pending == 0; });
  p.job = nullptr;
  if (!caught) caught = p.error;
  p.error = nullptr;
  lock.unlock();
  if (caught) std::rethrow_exception(caught);
}

int threads_resolve(int requested) {
  if (requested > 0) {
    if (requested > kMaxThreads) fail_input("--threads ", requested, ": at most ", kMaxThreads);
    return requested;
  }
  if (const char* env = std::getenv("PIPESHARD_NUM_THREADS"); env && *env) {
    const std::string s(env);
    size_t used = 0;
    long v = 0;
    try {
      v = std::stol(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || v < 1 || v > kMaxThreads)
      fail_input("PIPESHARD_NUM_THREADS='", s, "': expected an integer in [1, ", kMaxThreads, "]");
    return static_cast<int>(v);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw < kMaxThreads ? hw : kMaxThreads);
}

void parallel_for(ThreadPool* pool, int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (pool && pool->size() > 1) {
    pool->parallel_for(n, grain, f);
  } else if (n > 0) {
    f(0, n);
  }
}

}  // namespace ps
