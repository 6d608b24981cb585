// Cluster specs: the presets load with their datasheet figures; bad specs name the field.
#include <gtest/gtest.h>

#include "partitioner/units.h"
#include "planning_fixtures.h"

namespace ps {
namespace {

std::string error_of(const Json& j) {
  try {
    cluster_from_json(j, "c.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
    return e.what();
  }
  return "(no error)";
}

Json one_gpu() {
  return Json::parse(R"({"nodes": [{"devices": [{"device": "cuda:0", "memory_gib": 16,
      "peak_tflops": {"f32": 10, "bf16": 100}, "memory_bandwidth_gb_s": 500}]}]})");
}

TEST(Cluster, PresetsLoad) {
  const ClusterSpec h = test::preset_cluster("h100-sxm-8x");
  ASSERT_EQ(h.nodes.size(), 1u);
  ASSERT_EQ(h.nodes[0].devices.size(), 8u);
  EXPECT_EQ(h.nodes[0].devices[7].device, Device::cuda(7));
  EXPECT_DOUBLE_EQ(h.nodes[0].devices[3].flops(DType::BF16), 989.4e12);
  EXPECT_DOUBLE_EQ(h.nodes[0].devices[3].memory_bandwidth, 3350e9);
  EXPECT_EQ(h.nodes[0].devices[0].memory_bytes, static_cast<int64_t>(80 * kGiB));
  EXPECT_DOUBLE_EQ(h.nodes[0].link.bandwidth, 450e9);

  const ClusterSpec two = test::preset_cluster("h100-2node-ib");
  ASSERT_EQ(two.nodes.size(), 2u);
  EXPECT_EQ(two.nodes[1].name, "node1");
  EXPECT_DOUBLE_EQ(two.inter_node.bandwidth, 50e9);
  EXPECT_EQ(cluster_device_label(two, 1, Device::cuda(3)), "node1/cuda:3");
  EXPECT_DOUBLE_EQ(cluster_link(two, 0, Device::cuda(0), 1, Device::cuda(0)).bandwidth, 50e9);
  EXPECT_DOUBLE_EQ(cluster_link(two, 1, Device::cuda(0), 1, Device::cuda(5)).bandwidth, 450e9);
  EXPECT_EQ(cluster_link(two, 1, Device::cuda(2), 1, Device::cuda(2)).bandwidth, 0.0);  // same GPU: free

  const ClusterSpec mixed = test::preset_cluster("mixed-2large-2small");
  ASSERT_EQ(mixed.nodes[0].devices.size(), 4u);
  EXPECT_EQ(mixed.nodes[0].devices[1].model, "A100-PCIe-80GB");
  EXPECT_EQ(mixed.nodes[0].devices[2].model, "L4-24GB");
  EXPECT_EQ(mixed.nodes[0].devices[2].device, Device::cuda(2));

  const ClusterSpec cpu = test::preset_cluster("cpu-2core");
  ASSERT_EQ(cpu.nodes[0].devices.size(), 1u);
  EXPECT_EQ(cpu.nodes[0].devices[0].cores, 2);
  EXPECT_DOUBLE_EQ(cpu.nodes[0].devices[0].flops(DType::BF16), cpu.nodes[0].devices[0].flops(DType::F32));
  EXPECT_DOUBLE_EQ(cluster_link(cpu, 0, Device::cpu(), 0, Device::cpu()).bandwidth, 2e9);  // loopback TCP

  EXPECT_EQ(test::preset_cluster("a100-pcie-4x").nodes[0].devices.size(), 4u);
}

TEST(Cluster, Defaults) {
  const ClusterSpec c = cluster_from_json(one_gpu(), "c.json");
  const DeviceSpec& d = c.nodes[0].devices[0];
  EXPECT_EQ(c.nodes[0].name, "node0");
  EXPECT_EQ(d.reserved_bytes, static_cast<int64_t>(kGiB));
  EXPECT_DOUBLE_EQ(d.flops(DType::F16), 10e12);  // not given: the f32 rate
  EXPECT_DOUBLE_EQ(d.layer_overhead, 20e-6);
  EXPECT_EQ(cluster_find(c, 0, Device::cuda(1)), nullptr);
  EXPECT_EQ(cluster_find(c, 1, Device::cuda(0)), nullptr);
  EXPECT_EQ(cluster_devices(c).size(), 1u);
}

TEST(Cluster, ErrorsNameTheField) {
  Json j = one_gpu();
  j["nodes"][0]["devices"][0]["memry_gib"] = 1;
  EXPECT_EQ(error_of(j), "c.json: nodes[0].devices[0].memry_gib: unknown key (did you mean 'memory_gib'?)");
  j = one_gpu();
  j["nodes"][0]["devices"][0]["memory_gib"] = -1;
  EXPECT_EQ(error_of(j), "c.json: nodes[0].devices[0].memory_gib: must be > 0, got -1");
  j = one_gpu();
  j["nodes"][0]["devices"][0]["count"] = 2;
  EXPECT_EQ(error_of(j), "c.json: nodes[0].link: required key is missing (the link between this node's devices)");
  j = one_gpu();
  j["nodes"][0]["count"] = 2;
  EXPECT_EQ(error_of(j), "c.json: inter_node_link: required key is missing (the cluster has 2 nodes)");
  j = one_gpu();
  j["nodes"][0]["devices"][0]["device"] = "tpu:0";
  EXPECT_NE(error_of(j).find("c.json: nodes[0].devices[0].device: "), std::string::npos) << error_of(j);
  j = one_gpu();
  j["nodes"][0]["devices"][0]["device"] = "cpu";
  EXPECT_EQ(error_of(j), "c.json: nodes[0].devices[0].cores: required key is missing");
  j = one_gpu();
  j["nodes"][0]["devices"][0]["peak_tflops"] = Json::object();
  EXPECT_EQ(error_of(j), "c.json: nodes[0].devices[0].peak_tflops.f32: required key is missing");
  j = one_gpu();
  j["nodes"][0]["devices"].push_back(j["nodes"][0]["devices"][0]);
  j["nodes"][0]["link"] = {{"bandwidth_gb_s", 10}};
  EXPECT_EQ(error_of(j), "c.json: nodes[0].devices[1]: device cuda:0 is listed twice in this node");
  EXPECT_EQ(error_of(Json::parse(R"({"nodes": []})")), "c.json: nodes: expected a non-empty list of nodes");
}

}  // namespace
}  // namespace ps
