#include "kernels/cuda/device_buffer.h"

#include <cstdio>
#include <utility>

#include "kernels/cuda/cuda_check.h"

namespace ps::cuda {

DeviceScratch::DeviceScratch(cudaStream_t stream, size_t bytes) : stream_(stream) {
  if (bytes != 0) PS_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes, stream));
}

DeviceScratch::~DeviceScratch() { release(); }

DeviceScratch::DeviceScratch(DeviceScratch&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), stream_(other.stream_) {}

DeviceScratch& DeviceScratch::operator=(DeviceScratch&& other) noexcept {
  if (this != &other) {
    release();
    ptr_ = std::exchange(other.ptr_, nullptr);
    stream_ = other.stream_;
  }
  return *this;
}

// A destructor may run while an error unwinds, so it reports instead of throwing. A failed free
// means the context is already broken (a kernel faulted), which the next checked call reports.
void DeviceScratch::release() noexcept {
  if (ptr_ == nullptr) return;
  const cudaError_t err = cudaFreeAsync(ptr_, stream_);
  if (err != cudaSuccess) std::fprintf(stderr, "pipeshard: cudaFreeAsync failed: %s\n", cudaGetErrorString(err));
  ptr_ = nullptr;
}

DeviceScratch upload_bytes(cudaStream_t stream, const void* host, size_t bytes) {
  DeviceScratch d(stream, bytes);
  if (bytes != 0) PS_CUDA_CHECK(cudaMemcpyAsync(d.data(), host, bytes, cudaMemcpyHostToDevice, stream));
  return d;
}

}  // namespace ps::cuda
