// The NCCL transport: the Transport interface (transport.h) for tensors in GPU memory, over the
// NCCL entry points of an NcclApi table (nccl_api.h). The real table exists in CUDA builds with
// NCCL (nccl_api_cuda() in runtime/comm/nccl_registry.h); tests drive the same logic with a stand-in.
//
// Channels. Each direction between two ranks is its own two-rank communicator with its own
// stream, created on the first message in that direction: the sender makes an ncclUniqueId and
// publishes it in the store ("<prefix><src>-><dst>/id"), both ends start a nonblocking
// ncclCommInitRank, and messages posted meanwhile queue in order. One communicator per
// direction keeps the Transport's matching rule (the n-th send from A to B meets B's n-th
// receive from A) without tags, and means two ranks that both send before they receive cannot
// deadlock, whatever the sizes.
//
// A message is an 8-byte header carrying the sender's byte count, then the payload. The receiver
// checks the header when the message completes (and when it hangs), so a size mismatch is an
// error naming both ranks and both sizes rather than silent corruption.
//
// Ordering against compute, with events and no host synchronisation: a posted message first
// waits (cudaStreamWaitEvent) for an event recorded on `compute_stream` at post time, so a send
// reads the tensor only after the kernels that produced it, and a receive overwrites its buffer
// only after the kernels enqueued before it. nccl_stream_wait() makes a stream wait for a
// completion on the device. Up to 64 messages per direction may be in flight; a 65th post
// waits for the oldest.
//
// Watchdog. A thread polls every channel: it advances set-ups, retires completed messages,
// reads ncclCommGetAsyncError, and aborts a channel's communicator (ncclCommAbort) when NCCL
// reports an error or a message has been pending for op_timeout. Every message of an aborted
// channel fails with an error naming this rank, the peer and the message. Completion::wait with
// a timeout that passes aborts the channel the same way.
//
// int32 spans (token ids) live in host memory, which NCCL does not send: they go over the
// `host` transport given in the options (Gloo), matched in posting order among themselves, and
// Transport::stream_wait hands their completions to that transport. A rank that also exchanges
// host tensors with some peers uses routed_transport.h instead, with no `host` here.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "runtime/comm/nccl_api.h"
#include "runtime/comm/store.h"
#include "runtime/comm/transport.h"

namespace ps {

struct NcclTransportOptions {
  int rank = 0;
  int world = 1;
  int device = 0;                  // this rank's GPU; every tensor must be on cuda:<device>
  void* compute_stream = nullptr;  // cudaStream_t producing sends and consuming receives (null: legacy default)
  std::chrono::milliseconds init_timeout{60000};  // a channel's communicator must be up by then
  std::chrono::milliseconds op_timeout{600000};   // the watchdog aborts a channel whose oldest message is older
  std::chrono::milliseconds poll_interval{1};     // watchdog period
  std::string store_prefix = "nccl/";
  std::unique_ptr<Transport> host;  // carries send_i32/recv_i32; null: they fail
};

// The transport for this rank. Returns at once (channels are set up on first use); the api table
// and the store must outlive it. Call from a thread whose current CUDA device is options.device.
std::unique_ptr<Transport> nccl_transport_create(Store& store, const NcclApi& api, NcclTransportOptions options);

// Makes `stream` wait on the device for `c`, a completion of an NCCL transport: work enqueued on
// it afterwards sees a received tensor, or may overwrite a sent one. Blocks the host only while
// the message is still queued behind its channel's set-up (up to `timeout`, then like
// Completion::wait). ps::Error when `c` came from another transport.
void nccl_stream_wait(Completion& c, void* stream, std::chrono::milliseconds timeout);

}  // namespace ps
