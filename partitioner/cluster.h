// The cluster spec: nodes, their devices (memory, peak FLOP/s per dtype, memory bandwidth; for a
// CPU its cores) and the links between devices. Read from JSON (configs/clusters/README.md has
// the schema and the datasheet figures behind the presets). Units in the file are the ones
// datasheets use (GiB of memory, TFLOP/s, GB/s, microseconds); in memory everything is SI base
// units (bytes, FLOP/s, bytes/s, seconds).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/device.h"
#include "runtime/core/dtype.h"
#include "runtime/core/json_util.h"

namespace ps {

struct LinkSpec {
  double bandwidth = 0.0;  // bytes/s, one direction; 0 = free (no transfer needed)
  double latency = 0.0;    // seconds per message
};
// latency + bytes / bandwidth; a free link (bandwidth 0) costs nothing.
double link_time(const LinkSpec& link, double bytes);

struct DeviceSpec {
  Device device;
  std::string model;           // "H100-SXM5-80GB"; profiles apply to devices of the same model
  int64_t memory_bytes = 0;
  int64_t reserved_bytes = 0;  // not for the model: CUDA context, allocator slack, the OS
  std::array<double, 3> peak_flops{};  // FLOP/s, indexed by DType
  double memory_bandwidth = 0.0;       // bytes/s
  int cores = 0;                       // CPU: the cores its stages share (0 for a GPU)
  double layer_overhead = 0.0;         // seconds per layer per pass: kernel launches, dispatch

  double flops(DType t) const { return peak_flops[static_cast<size_t>(t)]; }
  int64_t usable_bytes() const { return memory_bytes - reserved_bytes; }
};

struct NodeSpec {
  std::string name;  // "node0"
  std::vector<DeviceSpec> devices;
  LinkSpec link;         // between two devices of this node (NVLink, PCIe)
  LinkSpec same_device;  // between two stages on ONE device (CPU: loopback TCP); default free
};

struct ClusterSpec {
  std::string name;
  std::string path;  // for messages
  std::vector<NodeSpec> nodes;
  LinkSpec inter_node;  // between devices of different nodes (InfiniBand, Ethernet)
};

// Reads a cluster spec; every error names the file and the JSON path (InvalidInput).
ClusterSpec cluster_load(const std::string& path);
ClusterSpec cluster_from_json(const Json& j, const std::string& path_for_messages);

// The device `device` of node `node`, or nullptr.
const DeviceSpec* cluster_find(const ClusterSpec& c, int node, Device device);
// "node1/cuda:3"
std::string cluster_device_label(const ClusterSpec& c, int node, Device device);
// The link a message takes from (node_a, a) to (node_b, b).
LinkSpec cluster_link(const ClusterSpec& c, int node_a, Device a, int node_b, Device b);

// One device in the order the planner places stages: node by node, each node's devices as listed.
struct DeviceSlot {
  int node = 0;
  const DeviceSpec* spec = nullptr;
};
std::vector<DeviceSlot> cluster_devices(const ClusterSpec& c);

}  // namespace ps
