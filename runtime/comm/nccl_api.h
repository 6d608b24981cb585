// The few NCCL and CUDA entry points the NCCL transport uses, as a table of functions (as a
// backend fills an OpTable). The real table wraps libnccl and the CUDA runtime
// (runtime/comm/cuda/nccl_api_cuda.cu, built only with CUDA and NCCL); the tests put a stand-in
// that moves bytes in host memory behind the same table, so the transport's ordering, watchdog
// and abort logic (nccl_transport.cpp) runs and is tested on machines without a GPU. Nothing in
// this header needs a CUDA or NCCL header.
//
// Handles (communicators, streams, events) are opaque pointers. Every entry takes `self`, the
// implementation's state (null for the real library).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ps {

// The outcome of one call. Pending: a nonblocking communicator still initialising or still
// enqueueing (ncclInProgress), or an event not reached yet. `message` stays valid until the next
// call into the table (NCCL's last-error text is overwritten by its next error): copy it.
struct NcclResult {
  enum Kind : uint8_t { Ok, Pending, Failed };
  Kind kind = Ok;
  const char* message = "";

  bool ok() const { return kind == Ok; }
  bool pending() const { return kind == Pending; }
  bool failed() const { return kind == Failed; }
};

// ncclUniqueId's bytes (NCCL_UNIQUE_ID_BYTES): shared through the rendezvous store.
using NcclId = std::array<uint8_t, 128>;

struct NcclApi {
  void* self = nullptr;

  // ---- NCCL ---------------------------------------------------------------------------------
  NcclResult (*get_unique_id)(void* self, NcclId* id) = nullptr;
  // Starts a nonblocking ncclCommInitRankConfig; poll comm_async_error until it is not Pending.
  NcclResult (*comm_init_rank)(void* self, void** comm, int nranks, const NcclId& id, int rank) = nullptr;
  // ncclCommGetAsyncError: Ok, Pending (initialising or enqueueing) or Failed.
  NcclResult (*comm_async_error)(void* self, void* comm) = nullptr;
  NcclResult (*comm_abort)(void* self, void* comm) = nullptr;
  NcclResult (*comm_destroy)(void* self, void* comm) = nullptr;
  NcclResult (*group_start)(void* self) = nullptr;
  // Pending means the group is still being enqueued: poll comm_async_error before the next call.
  NcclResult (*group_end)(void* self) = nullptr;
  // Bytes (ncclUint8): the transport carries every dtype as bytes and checks sizes itself.
  NcclResult (*send)(void* self, const void* buf, size_t bytes, int peer, void* comm, void* stream) = nullptr;
  NcclResult (*recv)(void* self, void* buf, size_t bytes, int peer, void* comm, void* stream) = nullptr;

  // ---- CUDA ---------------------------------------------------------------------------------
  NcclResult (*set_device)(void* self, int device) = nullptr;
  NcclResult (*stream_create)(void* self, void** stream) = nullptr;  // non-blocking, current device
  NcclResult (*stream_destroy)(void* self, void* stream) = nullptr;
  NcclResult (*event_create)(void* self, void** event) = nullptr;  // timing disabled
  NcclResult (*event_destroy)(void* self, void* event) = nullptr;
  NcclResult (*event_record)(void* self, void* event, void* stream) = nullptr;
  NcclResult (*event_query)(void* self, void* event) = nullptr;  // Ok once reached, else Pending
  NcclResult (*stream_wait_event)(void* self, void* stream, void* event) = nullptr;
  // Small fixed buffers (message headers): allocated once per channel.
  NcclResult (*device_alloc)(void* self, void** ptr, size_t bytes) = nullptr;
  NcclResult (*device_free)(void* self, void* ptr) = nullptr;
  NcclResult (*host_alloc)(void* self, void** ptr, size_t bytes) = nullptr;  // pinned
  NcclResult (*host_free)(void* self, void* ptr) = nullptr;
  // Asynchronous copy on a stream between pinned host and device memory (either direction).
  NcclResult (*copy_async)(void* self, void* dst, const void* src, size_t bytes, void* stream) = nullptr;
};

}  // namespace ps
