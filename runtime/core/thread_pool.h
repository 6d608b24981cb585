// A fixed pool of worker threads for data-parallel loops in CPU ops. One pool per process (per
// pipeline stage), passed through the OpContext; OpenBLAS keeps its own threads, set to the same
// count (blas_set_threads in kernels/cpu/blas_threads.h; see cpu_threads_setup).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace ps {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads >= 1; the calling thread is one of them
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Splits [0, n) into at most size() contiguous chunks of at least `grain` items and runs
  // f(begin, end) on each, the caller taking one; returns when all are done. Exceptions from
  // workers are re-thrown on the caller.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Thread count: `requested` when > 0, else PIPESHARD_NUM_THREADS, else the number of cores.
// A bad PIPESHARD_NUM_THREADS is InvalidInput naming the variable.
int threads_resolve(int requested);

// Runs f over [0, n) on the pool when there is one, else inline.
void parallel_for(ThreadPool* pool, int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

}  // namespace ps
