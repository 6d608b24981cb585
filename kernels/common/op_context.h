// What every op needs besides its tensors: the backend that runs it, the stream (CUDA; null on
// the CPU), the thread pool and scratch memory. Passed explicitly; there are no globals.
#pragma once

#include <cstddef>

#include "runtime/core/tensor.h"

namespace ps {

struct Backend;
class ThreadPool;

// Scratch memory reused across calls (attention scores, sampling buffers). Grows, never shrinks.
class Workspace {
 public:
  float* floats(size_t n) {
    buf_.resize(n * sizeof(float));
    return static_cast<float*>(buf_.data());
  }

 private:
  Buffer buf_;
};

struct OpContext {
  const Backend* backend = nullptr;  // never null when an op runs (backend_get)
  void* stream = nullptr;            // cudaStream_t on CUDA
  ThreadPool* pool = nullptr;        // null = run on the calling thread
  Workspace* workspace = nullptr;
};

}  // namespace ps
