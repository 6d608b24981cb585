// Backends as small tables of operations (as ggml does): a backend fills an OpTable; kernels/ops.h
// checks each call's arguments (op_checks.h) and dispatches through it. The registry maps a
// device kind to its backend. The CPU backend is always there; the CUDA backend is a separate
// target, registered only in a CUDA build, so no shared header changes with the build.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "kernels/common/op_list.h"
#include "kernels/common/op_types.h"

namespace ps {

// One function pointer per op of op_list.h, null where a backend has no kernel for it.
struct OpTable {
#define PS_OP_TABLE_SLOT(name, Signature) op_type::Signature* name = nullptr;
  PS_OP_LIST(PS_OP_TABLE_SLOT)
#undef PS_OP_TABLE_SLOT
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
  // The backend's own rule for each tensor argument of an op (its dtype, its device, memory
  // behind it), which op_checks.cpp runs on every tensor before the shape checks. `dtype` is the
  // dtype of the call's first tensor, for a backend whose tensors of one call share it. copy's
  // two sides follow their own rule, in each backend's copy. Null: no rule.
  void (*check_tensor)(const char* op, const char* name, const TensorView& t, DType dtype) = nullptr;
  int (*device_count)() = nullptr;
  std::string (*device_name)(int index) = nullptr;
};

// The registry (kernels/backend_registry.cpp, in pipeshard_kernels). The backend for a device kind; InvalidInput naming the device when it is not built in or has
// no such device ("cuda:3: this build has no CUDA backend (built with PIPESHARD_CUDA=OFF)").
const Backend& backend_get(const Device& device);
// Every backend linked into this binary.
std::vector<const Backend*> backend_list();

// Defined by each backend target (kernels/cpu, kernels/cuda).
const Backend& cpu_backend();
const Backend& cuda_backend();  // only in a CUDA build

}  // namespace ps
