// Point-to-point transport between the ranks of a job: the one interface the executor sends
// activations and token ids through. Gloo over TCP implements it for CPU tensors
// (gloo_transport.h); NCCL implements it for GPU tensors. Both are existing engines; nothing
// here defines a wire format for tensors.
//
// Matching: there are no tags. The n-th message that rank A posts to B is received by the n-th
// receive that B posts from A (as NCCL does), tensors and int32 spans alike, so both sides must
// post in the same order. Both sides must agree on the byte count; a mismatch fails the receive
// with an error naming both ranks and both sizes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "runtime/core/tensor.h"

namespace ps {

// Payload bytes and messages that completed (headers and control traffic are not counted).
struct TransportStats {
  uint64_t bytes_sent = 0, bytes_received = 0, sends = 0, recvs = 0;
};

// A posted operation.
class Completion {
 public:
  virtual ~Completion() = default;
  // Blocks until the operation is done. ps::Error(Timeout) naming the peer and the operation when
  // `timeout` passes first; ps::Error(Runtime) naming them when it failed (the peer died, sizes
  // disagree). After a failure or a timeout, tear the transport down: the operation stays
  // posted, and later messages between the same two ranks may no longer match.
  virtual void wait(std::chrono::milliseconds timeout) = 0;
  // True once the operation is done; throws its error if it failed. Never blocks.
  virtual bool test() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;

  // Asynchronous. The memory must stay valid and untouched until the completion is done (or the
  // transport is destroyed, which cancels what is pending); dropping the completion does not
  // cancel the operation.
  virtual std::unique_ptr<Completion> send(const TensorView& t, int peer) = 0;
  virtual std::unique_ptr<Completion> recv(const TensorView& t, int peer) = 0;
  // int32 payloads in host memory (token ids, small headers): the dtype set (dtype.h) is kept to
  // what tensors are stored in, so integers travel as their own typed span. Same ordering as
  // tensors: a send_i32 is matched by the recv_i32 posted at the same position.
  virtual std::unique_ptr<Completion> send_i32(std::span<const int32_t> v, int peer) = 0;
  virtual std::unique_ptr<Completion> recv_i32(std::span<int32_t> v, int peer) = 0;

  virtual TransportStats stats() const = 0;

  // Whether tensors in memory on `device` travel directly to and from `peer` (Gloo: host
  // memory; NCCL: its GPU; a routed transport: whichever route that peer takes). The executor
  // stages activations through host memory when they are not carried.
  virtual bool carries(const Device& device, int peer) const = 0;
  // Makes work enqueued on `stream` after this call see the completed operation `c` (a received
  // tensor, or a sent buffer free to overwrite). Host transports wait on the host; NCCL makes the
  // stream wait on the device (nccl_stream_wait), so the host does not block.
  virtual void stream_wait(Completion& c, void* stream, std::chrono::milliseconds timeout) {
    (void)stream;
    c.wait(timeout);
  }

  // Test hook: called on each tensor just before it is sent (it may modify it), e.g. to corrupt
  // an activation and check that the receiver notices. Not called for int32 spans. An empty
  // function removes the hook.
  using FaultHook = std::function<void(const TensorView&, int peer)>;
  virtual void set_fault_hook(FaultHook hook) = 0;
};

}  // namespace ps
