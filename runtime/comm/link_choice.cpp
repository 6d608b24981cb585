#include "runtime/comm/link_choice.h"

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/json_util.h"

namespace ps {

std::string rank_place_encode(const RankPlace& place) {
  const Json j = {{"host", place.host}, {"device", place.device.str()}, {"gpu_uuid", place.gpu_uuid}};
  return j.dump();
}

RankPlace rank_place_decode(int rank, std::string_view value) {
  try {
    const Json j = json_parse(value, "place");
    const JsonField f{j, "place"};
    f.reject_unknown_keys({"host", "device", "gpu_uuid"});
    RankPlace p;
    p.host = f.require_string("host");
    if (p.host.empty()) fail_input(f.path("host"), ": empty");
    p.device = device_parse(f.require_string("device"), f.path("device"));
    p.gpu_uuid = f.require_string("gpu_uuid");
    if (p.device.is_cpu() && !p.gpu_uuid.empty()) fail_input(f.path("gpu_uuid"), ": given for a cpu device");
    return p;
  } catch (const Error& e) {  // the value came from another rank, not from the user: a runtime fault
    fail_runtime("rank ", rank, " published a malformed place '", value, "': ", e.what());
  }
}

bool device_link(const RankPlace& a, const RankPlace& b) {
  if (a.device.is_cpu() || b.device.is_cpu()) return false;
  const bool same_gpu = !a.gpu_uuid.empty() && !b.gpu_uuid.empty()
                            ? a.gpu_uuid == b.gpu_uuid
                            : a.host == b.host && a.device.index == b.device.index;
  return !same_gpu;
}

std::set<int> device_peers(int rank, const std::vector<int>& neighbours, const std::vector<RankPlace>& places) {
  const int world = static_cast<int>(places.size());
  if (rank < 0 || rank >= world) fail_runtime("device_peers: rank ", rank, " is outside the ", world, " places");
  std::set<int> peers;
  for (int n : neighbours) {
    if (n < 0 || n >= world || n == rank)
      fail_runtime("device_peers: rank ", rank, ": neighbour ", n, " is not another rank of 0..", world - 1);
    if (device_link(places[static_cast<size_t>(rank)], places[static_cast<size_t>(n)])) peers.insert(n);
  }
  return peers;
}

}  // namespace ps
