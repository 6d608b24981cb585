// One rank's messages split between two transports: a host one (Gloo) and a device one (NCCL).
//
// Why two: NCCL moves GPU memory only, so it cannot carry the int32 spans (token ids, which live
// in host memory), and it cannot join two ranks placed on the same GPU (link_choice.h), nor a
// rank on the CPU. A pipeline whose neighbours are partly on other GPUs and partly on the same
// GPU or on CPUs therefore needs both: tensors to and from a peer in `device_peers` travel over
// `device`; every int32 span, and the tensors of every other peer, over `host`.
//
// Matching stays per (transport, peer, kind of message) in posting order, so the two ends of a
// pair match as long as they route identically, which they do when both take `device_peers`
// from device_peers() (link_choice.h) over the same places.
//
// Completions are wrapped: stream_wait(c, ...) dispatches to the transport that made `c`
// (NCCL waits on the device, Gloo on the host), and a completion this transport did not make is
// an error rather than a silent host wait. carries(d, peer) answers for the route `peer` takes, so
// the executor sends device tensors directly to device peers and stages the rest through host
// memory.
#pragma once

#include <memory>
#include <set>

#include "runtime/comm/transport.h"

namespace ps {

// `host` is required. `device` may be null when `device_peers` is empty; otherwise it must have
// the same rank and world as `host`. Every peer in `device_peers` must be another rank of the
// world. rank()/world() come from `host`; stats() sums both; set_fault_hook sets both. Throws
// ps::Error(Runtime) naming this rank on a violation.
std::unique_ptr<Transport> routed_transport_create(std::unique_ptr<Transport> host, std::unique_ptr<Transport> device,
                                                   std::set<int> device_peers);

}  // namespace ps
