// libFuzzer target: a cluster spec through json_parse and cluster_from_json. On success it walks
// what the planner reads: every device slot, its usable memory, and the link between each pair.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "partitioner/cluster.h"
#include "tests/fuzz/fuzz_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr const char* kTarget = "fuzz_cluster";
  const std::string file = "cluster.json";
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ps::ClusterSpec c;
  if (!ps::fuzz::accepts(kTarget, file, [&] { c = ps::cluster_from_json(ps::json_parse(text, file), file); })) return 0;

  FUZZ_CHECK(kTarget, !ps::fuzz::has_nul_or_duplicate_key(text));  // json_parse is strict
  FUZZ_CHECK(kTarget, !c.nodes.empty());
  const std::vector<ps::DeviceSlot> slots = ps::cluster_devices(c);
  FUZZ_CHECK(kTarget, !slots.empty());
  // Pairs of the first few slots only: a spec may legally list millions of devices.
  const size_t n = std::min<size_t>(slots.size(), 16);
  for (size_t i = 0; i < n; ++i) {
    const ps::DeviceSlot& a = slots[i];
    FUZZ_CHECK(kTarget, a.spec->usable_bytes() > 0);
    FUZZ_CHECK(kTarget, ps::cluster_find(c, a.node, a.spec->device) == a.spec);
    for (size_t j = 0; j < n; ++j) {
      const ps::LinkSpec l = ps::cluster_link(c, a.node, a.spec->device, slots[j].node, slots[j].spec->device);
      FUZZ_CHECK(kTarget, l.bandwidth >= 0.0 && l.latency >= 0.0);
      FUZZ_CHECK(kTarget, ps::link_time(l, 1e6) >= 0.0);
    }
  }
  return 0;
}
