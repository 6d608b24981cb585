// Which neighbours exchange over NCCL (runtime/comm/link_choice.h): the same-GPU rule on one host
// and across hosts, uuids deciding when both are known, CPUs, and the store encoding of a place.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "comm/comm_test_util.h"
#include "runtime/comm/link_choice.h"

namespace ps::test {
namespace {

RankPlace place(const std::string& host, Device d, const std::string& uuid = "") { return {host, d, uuid}; }

TEST(LinkChoice, SameGpuOnOneHostIsNoDeviceLink) {
  EXPECT_FALSE(device_link(place("a", Device::cuda(0)), place("a", Device::cuda(0))));
  EXPECT_FALSE(device_link(place("a", Device::cuda(3)), place("a", Device::cuda(3))));
}

TEST(LinkChoice, TwoGpusOfOneHostAreLinked) {
  EXPECT_TRUE(device_link(place("a", Device::cuda(0)), place("a", Device::cuda(1))));
  EXPECT_TRUE(device_link(place("a", Device::cuda(1)), place("a", Device::cuda(0))));
}

TEST(LinkChoice, SameIndexOnTwoHostsIsLinked) {
  EXPECT_TRUE(device_link(place("a", Device::cuda(0)), place("b", Device::cuda(0))));
}

TEST(LinkChoice, ACpuOnEitherEndIsNoDeviceLink) {
  EXPECT_FALSE(device_link(place("a", Device::cpu()), place("b", Device::cuda(0))));
  EXPECT_FALSE(device_link(place("a", Device::cuda(0)), place("a", Device::cpu())));
  EXPECT_FALSE(device_link(place("a", Device::cpu()), place("b", Device::cpu())));
}

TEST(LinkChoice, UuidsDecideWhenBothAreKnown) {
  // CUDA_VISIBLE_DEVICES=1 in one process and =0 in the other: both see cuda:0, different GPUs.
  EXPECT_TRUE(device_link(place("a", Device::cuda(0), "GPU-1111"), place("a", Device::cuda(0), "GPU-2222")));
  // One GPU seen under two indices (different CUDA_VISIBLE_DEVICES orders).
  EXPECT_FALSE(device_link(place("a", Device::cuda(0), "GPU-1111"), place("a", Device::cuda(1), "GPU-1111")));
  // Same uuid under two host names (an alias of one node): still one GPU.
  EXPECT_FALSE(device_link(place("a", Device::cuda(0), "GPU-1111"), place("a.local", Device::cuda(0), "GPU-1111")));
  // One uuid missing: back to host and index.
  EXPECT_FALSE(device_link(place("a", Device::cuda(0), "GPU-1111"), place("a", Device::cuda(0))));
  EXPECT_TRUE(device_link(place("a", Device::cuda(0)), place("a", Device::cuda(1), "GPU-1111")));
}

TEST(LinkChoice, DevicePeersKeepTheLinkedNeighbours) {
  // Ranks 0 and 1 share GPU 0 of host a; rank 2 is GPU 1 of host a; rank 3 a CPU on host b.
  const std::vector<RankPlace> places = {place("a", Device::cuda(0)), place("a", Device::cuda(0)),
                                         place("a", Device::cuda(1)), place("b", Device::cpu())};
  EXPECT_EQ(device_peers(1, {0, 2}, places), (std::set<int>{2}));
  EXPECT_EQ(device_peers(0, {1}, places), (std::set<int>{}));
  EXPECT_EQ(device_peers(2, {1, 3}, places), (std::set<int>{1}));
  EXPECT_EQ(device_peers(3, {2}, places), (std::set<int>{}));
  EXPECT_EQ(device_peers(2, {}, places), (std::set<int>{}));
  std::string e = error_of([&] { device_peers(1, {1}, places); }, ErrorKind::Runtime);
  EXPECT_NE(e.find("rank 1: neighbour 1 is not another rank of 0..3"), std::string::npos) << e;
  e = error_of([&] { device_peers(1, {4}, places); }, ErrorKind::Runtime);
  EXPECT_NE(e.find("neighbour 4"), std::string::npos) << e;
  e = error_of([&] { device_peers(4, {0}, places); }, ErrorKind::Runtime);
  EXPECT_NE(e.find("rank 4 is outside the 4 places"), std::string::npos) << e;
}

TEST(LinkChoice, PlacesRoundTripThroughTheirStoreValue) {
  for (const RankPlace& p : {place("node-7.cluster", Device::cuda(3), "GPU-8f1c2a3b-0000-1111-2222-333344445555"),
                             place("a", Device::cuda(0)), place("host \"quoted\"\t", Device::cpu())}) {
    const std::string v = rank_place_encode(p);
    EXPECT_EQ(rank_place_decode(5, v), p) << v;
  }
  EXPECT_EQ(rank_place_encode(place("h", Device::cuda(2), "GPU-x")),
            R"({"device":"cuda:2","gpu_uuid":"GPU-x","host":"h"})");
}

TEST(LinkChoice, MalformedPlacesNameTheRankAndTheValue) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not valid JSON"},
      {"cuda:0", "not valid JSON"},
      {"[]", "place: expected an object, got array"},
      {R"({"device":"cuda:0","gpu_uuid":""})", "host"},
      {R"({"host":"","device":"cuda:0","gpu_uuid":""})", "place.host: empty"},
      {R"({"host":"a","device":"gpu0","gpu_uuid":""})", "'gpu0' is not a device"},
      {R"({"host":"a","device":"cuda:0"})", "gpu_uuid"},
      {R"({"host":"a","device":"cuda:0","gpu_uuid":7})", "gpu_uuid"},
      {R"({"host":"a","device":"cpu","gpu_uuid":"GPU-1"})", "given for a cpu device"},
      {R"({"host":"a","device":"cuda:0","gpu_uuid":"","extra":1})", "extra"},
  };
  for (const auto& c : cases) {
    const std::string& value = c.first;
    const std::string& why = c.second;
    const std::string e = error_of([&] { rank_place_decode(6, value); }, ErrorKind::Runtime);
    EXPECT_NE(e.find("rank 6 published a malformed place '" + value + "'"), std::string::npos) << e;
    EXPECT_NE(e.find(why), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace ps::test
