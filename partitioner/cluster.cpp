#include "partitioner/cluster.h"

#include <nlohmann/json.hpp>

#include "partitioner/units.h"
#include "runtime/core/error.h"

namespace ps {

double link_time(const LinkSpec& link, double bytes) {
  if (link.bandwidth <= 0.0) return 0.0;
  return link.latency + bytes / link.bandwidth;
}

namespace {

double require_positive(const JsonField& f, const char* key) {
  const double v = f.require_number(key);
  if (!(v > 0.0)) fail_input(f.path(key), ": must be > 0, got ", v);
  return v;
}

double get_non_negative(const JsonField& f, const char* key, double dflt) {
  const double v = f.get_number(key, dflt);
  if (!(v >= 0.0)) fail_input(f.path(key), ": must be >= 0, got ", v);
  return v;
}

// GiB in the file -> bytes. Bounded (1 GiB * 2^30 = 1 EiB, far past any device) so that the
// conversion to int64 is defined for every number a file can hold.
int64_t gib_to_bytes(const JsonField& f, const char* key, double gib) {
  constexpr int64_t kMaxGiB = int64_t{1} << 30;
  if (gib > static_cast<double>(kMaxGiB)) fail_input(f.path(key), ": ", gib, " GiB is more than the supported ", kMaxGiB, " GiB");
  return static_cast<int64_t>(gib * kGiB);
}

LinkSpec read_link(const Json& j, const std::string& where) {
  const JsonField f{j, where};
  f.reject_unknown_keys({"bandwidth_gb_s", "latency_us", "notes"});
  LinkSpec l;
  l.bandwidth = require_positive(f, "bandwidth_gb_s") * 1e9;
  l.latency = get_non_negative(f, "latency_us", 0.0) * 1e-6;
  return l;
}

// Reads one "devices" entry; with "count": n it stands for n devices with consecutive indices.
std::vector<DeviceSpec> read_devices(const Json& j, const std::string& where) {
  const JsonField f{j, where};
  f.reject_unknown_keys({"device", "model", "count", "memory_gib", "reserved_gib", "peak_tflops",
                         "memory_bandwidth_gb_s", "cores", "layer_overhead_us", "notes"});
  DeviceSpec d;
  d.device = with_context(f.path("device"), [&] { return device_parse(f.require_string("device")); });
  d.model = f.get_string("model", d.device.is_cpu() ? "cpu" : "gpu");
  d.memory_bytes = gib_to_bytes(f, "memory_gib", require_positive(f, "memory_gib"));
  // Defaults: a CUDA context plus cuBLAS workspace and allocator slack; for a CPU, the OS.
  d.reserved_bytes = gib_to_bytes(f, "reserved_gib", get_non_negative(f, "reserved_gib", d.device.is_cpu() ? 0.5 : 1.0));
  if (d.reserved_bytes >= d.memory_bytes)
    fail_input(f.path("reserved_gib"), ": reserves all of the device's ", format_gib(static_cast<double>(d.memory_bytes)));

  const std::string pw = f.path("peak_tflops");
  const Json& peaks = f.require("peak_tflops");
  const JsonField pf{peaks, pw};
  pf.reject_unknown_keys({"f32", "f16", "bf16"});
  const double f32 = require_positive(pf, "f32");
  // A CPU without native half-precision math converts to f32: same rate unless stated.
  d.peak_flops[static_cast<size_t>(DType::F32)] = f32 * 1e12;
  d.peak_flops[static_cast<size_t>(DType::F16)] = (pf.has("f16") ? require_positive(pf, "f16") : f32) * 1e12;
  d.peak_flops[static_cast<size_t>(DType::BF16)] = (pf.has("bf16") ? require_positive(pf, "bf16") : f32) * 1e12;

  d.memory_bandwidth = require_positive(f, "memory_bandwidth_gb_s") * 1e9;
  if (d.device.is_cpu()) {
    const int64_t cores = f.require_int("cores");
    if (cores < 1) fail_input(f.path("cores"), ": must be >= 1, got ", cores);
    d.cores = static_cast<int>(cores);
  } else if (f.has("cores")) {
    fail_input(f.path("cores"), ": only a cpu device has cores");
  }
  d.layer_overhead = get_non_negative(f, "layer_overhead_us", d.device.is_cpu() ? 2.0 : 20.0) * 1e-6;

  const int64_t count = f.get_int("count", 1);
  if (count < 1 || count > 1024) fail_input(f.path("count"), ": must be in 1..1024, got ", count);
  if (count > 1 && d.device.is_cpu()) fail_input(f.path("count"), ": a node has one cpu device (give it more cores)");
  std::vector<DeviceSpec> out;
  for (int64_t i = 0; i < count; ++i) {
    out.push_back(d);
    out.back().device.index = d.device.index + static_cast<int>(i);
  }
  return out;
}

NodeSpec read_node(const Json& j, const std::string& where) {
  const JsonField f{j, where};
  f.reject_unknown_keys({"name", "count", "devices", "link", "same_device_link", "notes"});
  NodeSpec n;
  n.name = f.get_string("name", "");
  const Json& devs = f.require("devices");
  if (!devs.is_array() || devs.empty()) fail_input(f.path("devices"), ": expected a non-empty list of devices");
  for (size_t i = 0; i < devs.size(); ++i) {
    const std::string dw = json_path(f.path("devices"), i);
    for (auto& d : read_devices(devs[i], dw)) {
      for (const auto& prev : n.devices)
        if (prev.device == d.device) fail_input(dw, ": device ", d.device.str(), " is listed twice in this node");
      n.devices.push_back(std::move(d));
    }
  }
  if (f.has("link")) n.link = read_link(f.require("link"), f.path("link"));
  else if (n.devices.size() > 1) fail_input(f.path("link"), ": required key is missing (the link between this node's devices)");
  if (f.has("same_device_link")) n.same_device = read_link(f.require("same_device_link"), f.path("same_device_link"));
  return n;
}

}  // namespace

ClusterSpec cluster_from_json(const Json& j, const std::string& path) {
  return with_context(path, [&] {
    const JsonField f{j, ""};
    f.reject_unknown_keys({"name", "notes", "nodes", "inter_node_link"});
    ClusterSpec c;
    c.path = path;
    c.name = f.get_string("name", path);
    const Json& nodes = f.require("nodes");
    if (!nodes.is_array() || nodes.empty()) fail_input("nodes: expected a non-empty list of nodes");
    for (size_t i = 0; i < nodes.size(); ++i) {
      const std::string nw = json_path("nodes", i);
      const NodeSpec node = read_node(nodes[i], nw);
      const JsonField nf{nodes[i], nw};
      const int64_t count = nf.get_int("count", 1);
      if (count < 1 || count > 4096) fail_input(nf.path("count"), ": must be in 1..4096, got ", count);
      if (count > 1 && !node.name.empty()) fail_input(nw, ": a node with \"count\" > 1 takes default names (drop \"name\")");
      for (int64_t k = 0; k < count; ++k) {
        c.nodes.push_back(node);
        if (c.nodes.back().name.empty()) c.nodes.back().name = "node" + std::to_string(c.nodes.size() - 1);
      }
    }
    if (f.has("inter_node_link")) c.inter_node = read_link(f.require("inter_node_link"), "inter_node_link");
    else if (c.nodes.size() > 1) fail_input("inter_node_link: required key is missing (the cluster has ", c.nodes.size(), " nodes)");
    return c;
  });
}

ClusterSpec cluster_load(const std::string& path) { return cluster_from_json(json_read_file(path), path); }

const DeviceSpec* cluster_find(const ClusterSpec& c, int node, Device device) {
  if (node < 0 || node >= static_cast<int>(c.nodes.size())) return nullptr;
  for (const auto& d : c.nodes[static_cast<size_t>(node)].devices)
    if (d.device == device) return &d;
  return nullptr;
}

std::string cluster_device_label(const ClusterSpec& c, int node, Device device) {
  const bool known = node >= 0 && node < static_cast<int>(c.nodes.size());
  return (known ? c.nodes[static_cast<size_t>(node)].name : "node" + std::to_string(node)) + "/" + device.str();
}

LinkSpec cluster_link(const ClusterSpec& c, int node_a, Device a, int node_b, Device b) {
  if (node_a != node_b) return c.inter_node;
  const NodeSpec& n = c.nodes.at(static_cast<size_t>(node_a));
  return a == b ? n.same_device : n.link;
}

std::vector<DeviceSlot> cluster_devices(const ClusterSpec& c) {
  std::vector<DeviceSlot> out;
  for (size_t n = 0; n < c.nodes.size(); ++n)
    for (const auto& d : c.nodes[n].devices) out.push_back({static_cast<int>(n), &d});
  return out;
}

}  // namespace ps
