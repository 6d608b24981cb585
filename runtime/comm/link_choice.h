// Which pairs of neighbouring ranks exchange tensors over NCCL (GPU memory) and which through
// host memory over Gloo. Pure functions over where each rank runs, which every rank publishes in
// the store at start-up, so that both ends of a pair reach the same answer.
//
// NCCL joins two ranks only when each has a GPU of its own: it cannot carry host memory, and a
// communicator whose two ranks sit on one GPU fails at set-up ("Duplicate GPU detected"). Two
// pipeline stages placed on the same GPU, or a stage on a CPU, therefore exchange through host
// memory.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/device.h"

namespace ps {

// Where one rank runs.
struct RankPlace {
  std::string host;      // the node's host name; ranks with equal names share the node's GPUs
  Device device;         // the rank's device as the plan names it
  std::string gpu_uuid;  // cudaDeviceProp::uuid as text ("GPU-..."); empty when unknown or on a CPU
  friend bool operator==(const RankPlace&, const RankPlace&) = default;
};

// The store value of a place: a JSON object {"host": ..., "device": "cuda:N", "gpu_uuid": ...}.
std::string rank_place_encode(const RankPlace& place);
// The inverse. A malformed value (not that JSON object, an empty host, a device that does not
// parse, a uuid on a CPU place) is ps::Error(Runtime) naming `rank` and the value.
RankPlace rank_place_decode(int rank, std::string_view value);

// True iff both are CUDA devices and not the same GPU. When both uuids are known they decide
// (CUDA_VISIBLE_DEVICES can give one GPU a different index in each process, and two GPUs the
// same one); otherwise the same host with the same index is the same GPU.
bool device_link(const RankPlace& a, const RankPlace& b);

// The neighbours of `rank` that device_link joins to it: the `device_peers` of
// routed_transport_create. ps::Error(Runtime) when a rank is not an index of `places` or a
// neighbour is `rank` itself.
std::set<int> device_peers(int rank, const std::vector<int>& neighbours, const std::vector<RankPlace>& places);

}  // namespace ps
