// Device scratch for one op call, allocated and freed in stream order (cudaMallocAsync and
// cudaFreeAsync on the op's stream). The free is ordered after every kernel enqueued before it,
// so a launcher may drop its scratch as soon as it has launched; the device's memory pool keeps
// the block, so the next call gets it back without a cudaMalloc or a host synchronisation.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <span>

namespace ps::cuda {

class DeviceScratch {
 public:
  DeviceScratch() = default;
  // `bytes` of device memory on the current device, usable by work enqueued on `stream`.
  DeviceScratch(cudaStream_t stream, size_t bytes);
  ~DeviceScratch();
  DeviceScratch(DeviceScratch&& other) noexcept;
  DeviceScratch& operator=(DeviceScratch&& other) noexcept;
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  void* data() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void release() noexcept;
  void* ptr_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

// Copies host values into new scratch on `stream`. The host memory may change or be freed as soon
// as this returns: a copy from pageable memory is staged by the driver before cudaMemcpyAsync
// returns (CUDA's "API synchronization behavior"), and the spans the ops take are pageable.
DeviceScratch upload_bytes(cudaStream_t stream, const void* host, size_t bytes);
template <class T>
DeviceScratch upload(cudaStream_t stream, std::span<const T> host) {
  return upload_bytes(stream, host.data(), host.size_bytes());
}

}  // namespace ps::cuda
