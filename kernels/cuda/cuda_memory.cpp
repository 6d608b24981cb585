// The CUDA backend's MemoryTable: cudaMalloc'd device memory, pinned host memory for
// asynchronous uploads, non-blocking streams and timing-free events. Every call is checked; a
// failure names the device and the size where there is one ("cuda:1: allocating 1048576 bytes:
// CUDA call cudaMalloc(...) failed ...").
//
// Calls that name a device run with that device current and then restore the caller's: a
// memory query must not move the thread to another GPU behind the back of the ops it runs next.
// set_device is the one call that changes it.
#include <cuda_runtime_api.h>

#include <cstdio>

#include "kernels/common/backend.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "runtime/core/error.h"

namespace ps::cuda {

namespace {

// Makes `device` current for its lifetime, then restores the previous device.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    PS_CUDA_CHECK(cudaGetDevice(&previous_));
    if (device != previous_) PS_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { (void)cudaSetDevice(previous_); }  // the device existed when we left it
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// f() with device current, its errors prefixed with "cuda:N: <what>".
template <class F>
void on_device(int device, const std::string& what, F&& f) {
  with_context(str("cuda:", device, ": ", what), [&] {
    const DeviceGuard guard(device);
    f();
  });
}

// Releases report on stderr instead of throwing: they run in destructors, often while another
// error unwinds, and a failed release means the context is already broken, which the next
// checked call reports. The error is cleared so that it is not blamed on a later launch.
void report_release_error(cudaError_t err, const char* call) {
  if (err == cudaSuccess) return;
  std::fprintf(stderr, "pipeshard: %s failed: %s\n", call, cudaGetErrorString(err));
  (void)cudaGetLastError();
}

void* alloc(int device, size_t bytes) {
  void* p = nullptr;
  on_device(device, str("allocating ", bytes, " bytes"), [&] {
    const cudaError_t err = cudaMalloc(&p, bytes);
    if (err != cudaSuccess) (void)cudaGetLastError();  // out of memory is not sticky: clear it
    PS_CUDA_CHECK(err);
  });
  return p;
}

void free_memory(int device, void* p) {
  if (p == nullptr) return;
  int previous = 0;
  const bool switch_device = cudaGetDevice(&previous) == cudaSuccess && previous != device;
  if (switch_device) (void)cudaSetDevice(device);
  report_release_error(cudaFree(p), "cudaFree");
  if (switch_device) (void)cudaSetDevice(previous);
}

// cudaMemset on device memory may return before it is done; the memset goes to the legacy
// default stream and is waited for there, which makes zero() blocking as the table promises.
void zero(int device, void* p, size_t bytes) {
  if (bytes == 0) return;
  on_device(device, str("zeroing ", bytes, " bytes"), [&] {
    PS_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, nullptr));
    PS_CUDA_CHECK(cudaStreamSynchronize(nullptr));
  });
}

void* host_alloc(size_t bytes) {
  void* p = nullptr;
  with_context(str("cuda: allocating ", bytes, " bytes of pinned host memory"), [&] {
    const cudaError_t err = cudaMallocHost(&p, bytes);
    if (err != cudaSuccess) (void)cudaGetLastError();
    PS_CUDA_CHECK(err);
  });
  return p;
}

void host_free(void* p) {
  if (p != nullptr) report_release_error(cudaFreeHost(p), "cudaFreeHost");
}

void upload_async(void* device_dst, const void* host_src, size_t bytes, void* stream) {
  if (bytes == 0) return;
  with_context(str("cuda: uploading ", bytes, " bytes"), [&] {
    PS_CUDA_CHECK(
        cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice, static_cast<cudaStream_t>(stream)));
  });
}

void set_device(int device) {
  with_context(str("cuda:", device, ": set_device"), [&] { PS_CUDA_CHECK(cudaSetDevice(device)); });
}

void mem_info(int device, size_t* free_bytes, size_t* total_bytes) {
  on_device(device, "mem_info", [&] { PS_CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes)); });
}

void* stream_create(int device) {
  cudaStream_t s = nullptr;
  on_device(device, "stream_create", [&] { PS_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); });
  return s;
}

void stream_destroy(void* stream) {
  if (stream != nullptr) report_release_error(cudaStreamDestroy(static_cast<cudaStream_t>(stream)), "cudaStreamDestroy");
}

void synchronize(void* stream) { PS_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream))); }

// On the current device (set_device first); timing off makes record and synchronize cheaper.
void* event_create() {
  cudaEvent_t e = nullptr;
  PS_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}

void event_record(void* event, void* stream) {
  PS_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)));
}

void event_synchronize(void* event) { PS_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event))); }

void event_destroy(void* event) {
  if (event != nullptr) report_release_error(cudaEventDestroy(static_cast<cudaEvent_t>(event)), "cudaEventDestroy");
}

}  // namespace

MemoryTable cuda_memory_table() {
  MemoryTable m;
  m.alloc = alloc;
  m.free = free_memory;
  m.zero = zero;
  m.host_alloc = host_alloc;
  m.host_free = host_free;
  m.upload_async = upload_async;
  m.set_device = set_device;
  m.mem_info = mem_info;
  m.stream_create = stream_create;
  m.stream_destroy = stream_destroy;
  m.synchronize = synchronize;
  m.event_create = event_create;
  m.event_record = event_record;
  m.event_synchronize = event_synchronize;
  m.event_destroy = event_destroy;
  return m;
}

}  // namespace ps::cuda
