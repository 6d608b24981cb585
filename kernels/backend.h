// Backends as small tables of operations (as ggml does): a backend fills an OpTable; ops.h
// dispatches through it. The registry maps a device kind to its backend. The CPU backend is
// always there; the CUDA backend is a separate target, registered only in a CUDA build, so no
// shared header changes with the build.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "kernels/op_types.h"

namespace ps {

struct OpTable {
  op_type::Embedding* embedding = nullptr;
  op_type::Binary* add = nullptr;
  op_type::Unary* gelu_tanh = nullptr;
  op_type::Unary* relu = nullptr;
  op_type::Unary* gelu_erf = nullptr;
  op_type::Unary* silu = nullptr;
  op_type::Unary* tanh_act = nullptr;
  op_type::GatherRows* gather_rows = nullptr;
  op_type::CopyColumns* copy_columns = nullptr;
  op_type::Binary* silu_mul = nullptr;
  op_type::LayerNorm* layer_norm = nullptr;
  op_type::RmsNorm* rms_norm = nullptr;
  op_type::Linear* linear = nullptr;
  op_type::Rope* rope = nullptr;
  op_type::KvStore* kv_store = nullptr;
  op_type::Attention* attention = nullptr;
  op_type::Unary* softmax = nullptr;
  op_type::Unary* log_softmax = nullptr;
  op_type::Sample* sample = nullptr;
  op_type::Copy* copy = nullptr;
};

// Memory, streams and events of a backend's devices. On the CPU memory is plain 64-byte aligned
// host memory, there are no streams (null), and events are complete at once. Every function
// that can fail throws ps::Error naming the device, the operation and the size.
struct MemoryTable {
  void* (*alloc)(int device, size_t bytes) = nullptr;         // device memory (Runtime error when none is left)
  void (*free)(int device, void* p) = nullptr;                // never throws; null is a no-op
  void (*zero)(int device, void* p, size_t bytes) = nullptr;  // blocking
  // Host memory the device can copy to and from asynchronously (pinned on CUDA).
  void* (*host_alloc)(size_t bytes) = nullptr;
  void (*host_free)(void* p) = nullptr;
  // Asynchronous copy of `bytes` from host_alloc memory to device memory on `stream`: the host
  // memory must stay untouched until an event recorded after it completes.
  void (*upload_async)(void* device_dst, const void* host_src, size_t bytes, void* stream) = nullptr;
  void (*set_device)(int device) = nullptr;  // the calling thread's current device
  void (*mem_info)(int device, size_t* free_bytes, size_t* total_bytes) = nullptr;
  void* (*stream_create)(int device) = nullptr;  // a non-blocking stream on `device` (null on the CPU)
  void (*stream_destroy)(void* stream) = nullptr;
  void (*synchronize)(void* stream) = nullptr;  // waits for all work enqueued on `stream`
  void* (*event_create)() = nullptr;
  void (*event_record)(void* event, void* stream) = nullptr;
  void (*event_synchronize)(void* event) = nullptr;  // waits for the work before the record
  void (*event_destroy)(void* event) = nullptr;
};

struct Backend {
  std::string name;  // "cpu", "cuda"
  DeviceKind kind = DeviceKind::CPU;
  OpTable ops;
  MemoryTable memory;
  int (*device_count)() = nullptr;
  std::string (*device_name)(int index) = nullptr;
};

// The backend for a device kind; InvalidInput naming the device when it is not built in or has
// no such device ("cuda:3: this build has no CUDA backend (built with PIPESHARD_CUDA=OFF)").
const Backend& backend_get(const Device& device);
// Every backend linked into this binary.
std::vector<const Backend*> backend_list();

// Defined by each backend target.
const Backend& cpu_backend();
const Backend& cuda_backend();  // only in a CUDA build

}  // namespace ps
