// The routed transport (runtime/comm/routed_transport.h) over two recording fakes
// (fake_transport.h): which transport each message takes, where stream_wait goes, the summed
// counters, the fault hook, and the completions and arguments it refuses.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "comm/comm_test_util.h"
#include "comm/fake_transport.h"
#include "runtime/comm/routed_transport.h"

namespace ps::test {
namespace {

using std::chrono::milliseconds;
using Strings = std::vector<std::string>;

TensorView view_of(std::vector<float>& v, Device d) {
  TensorView t;
  t.data = v.data();
  t.dtype = DType::F32;
  t.device = d;
  t.shape = Shape{static_cast<int64_t>(v.size())};
  return t;
}

// Rank 1 of 4; `device_peers` go over the device fake (which carries cuda:0 and waits on the
// device), the rest over the host fake (which carries the CPU and waits on the host).
struct Routed {
  std::shared_ptr<FakeLog> host_log = std::make_shared<FakeLog>(), device_log = std::make_shared<FakeLog>();
  std::unique_ptr<Transport> t;

  explicit Routed(std::set<int> device_peers, TransportStats host_stats = {}, TransportStats device_stats = {}) {
    t = routed_transport_create(
        std::make_unique<FakeTransport>(host_log, fake_options(1, 4, Device::cpu(), false, host_stats)),
        std::make_unique<FakeTransport>(device_log, fake_options(1, 4, Device::cuda(0), true, device_stats)),
        std::move(device_peers));
  }
};

TEST(RoutedTransport, TensorsOfDevicePeersTakeTheDeviceAndEverythingElseTheHost) {
  Routed r({2});
  std::vector<float> x(3), y(5);
  std::vector<int32_t> ids(4);
  const TensorView gx = view_of(x, Device::cuda(0)), hy = view_of(y, Device::cpu());
  std::vector<std::unique_ptr<Completion>> cs;
  cs.push_back(r.t->send(gx, 2));
  cs.push_back(r.t->send_i32(ids, 2));  // int32 to a device peer: still the host
  cs.push_back(r.t->send(hy, 0));
  cs.push_back(r.t->recv(gx, 2));
  cs.push_back(r.t->recv_i32(ids, 2));
  cs.push_back(r.t->recv(hy, 3));
  cs.push_back(r.t->send_i32(ids, 0));
  cs.push_back(r.t->recv_i32(std::span<int32_t>(ids).first(2), 3));
  EXPECT_EQ(r.device_log->whats(), (Strings{"send f32[3] to 2", "recv f32[3] from 2"}));
  EXPECT_EQ(r.host_log->whats(), (Strings{"send_i32[4] to 2", "send f32[5] to 0", "recv_i32[4] from 2",
                                          "recv f32[5] from 3", "send_i32[4] to 0", "recv_i32[2] from 3"}));
}

TEST(RoutedTransport, WithoutDevicePeersEverythingTakesTheHostAndNoDeviceIsNeeded) {
  auto log = std::make_shared<FakeLog>();
  auto t = routed_transport_create(std::make_unique<FakeTransport>(log, fake_options(0, 2)), nullptr, {});
  std::vector<float> x(2);
  std::vector<int32_t> ids(1);
  t->send(view_of(x, Device::cpu()), 1)->wait(milliseconds(5));
  t->recv_i32(ids, 1)->wait(milliseconds(5));
  EXPECT_EQ(log->whats(), (Strings{"send f32[2] to 1", "recv_i32[1] from 1"}));
  EXPECT_EQ(t->rank(), 0);
  EXPECT_EQ(t->world(), 2);
}

TEST(RoutedTransport, StreamWaitGoesToTheTransportThatMadeTheCompletion) {
  Routed r({2});
  std::vector<float> x(3), y(3);
  int stream_tag = 0;
  void* stream = &stream_tag;
  auto dev = r.t->recv(view_of(x, Device::cuda(0)), 2);
  auto host = r.t->recv(view_of(y, Device::cpu()), 0);
  std::vector<int32_t> ids(2);
  auto ids_done = r.t->recv_i32(ids, 2);

  r.t->stream_wait(*dev, stream, milliseconds(123));
  const FakeOp& d = *r.device_log->ops.at(0);
  EXPECT_EQ(d.stream_waits, 1);
  EXPECT_EQ(d.stream_waited, stream);
  EXPECT_EQ(d.host_waits, 0) << "a device completion must not block the host";

  r.t->stream_wait(*host, stream, milliseconds(456));
  r.t->stream_wait(*ids_done, stream, milliseconds(789));
  const FakeOp& h = *r.host_log->ops.at(0);
  const FakeOp& i = *r.host_log->ops.at(1);
  EXPECT_EQ(h.what, "recv f32[3] from 0");
  EXPECT_EQ(h.host_waits, 1);
  EXPECT_EQ(h.last_timeout, milliseconds(456));
  EXPECT_EQ(h.stream_waits, 0);
  EXPECT_EQ(i.what, "recv_i32[2] from 2");
  EXPECT_EQ(i.host_waits, 1);
  EXPECT_EQ(i.last_timeout, milliseconds(789));
  EXPECT_EQ(d.host_waits, 0);
  EXPECT_EQ(d.stream_waits, 1) << "host completions reached the device transport";
}

TEST(RoutedTransport, CompletionsForwardWaitTestAndErrors) {
  Routed r({2});
  std::vector<float> x(1);
  auto c = r.t->send(view_of(x, Device::cuda(0)), 2);
  EXPECT_TRUE(c->test());
  c->wait(milliseconds(77));
  EXPECT_EQ(r.device_log->ops.at(0)->host_waits, 1);
  EXPECT_EQ(r.device_log->ops.at(0)->last_timeout, milliseconds(77));
  r.device_log->ops.at(0)->error = "peer 2 died";
  EXPECT_EQ(error_of([&] { c->wait(milliseconds(1)); }, ErrorKind::Runtime), "peer 2 died");
  EXPECT_EQ(error_of([&] { c->test(); }, ErrorKind::Runtime), "peer 2 died");
}

TEST(RoutedTransport, ForeignCompletionsAreRefused) {
  Routed r({2}), other({2});
  std::vector<float> x(1);
  auto theirs = other.t->recv(view_of(x, Device::cuda(0)), 2);
  std::string e = error_of([&] { r.t->stream_wait(*theirs, nullptr, milliseconds(1)); }, ErrorKind::Runtime);
  EXPECT_NE(e.find("routed transport rank 1: stream_wait: the completion was not made by this transport"),
            std::string::npos)
      << e;
  // An inner transport's own completion, unwrapped, is foreign too.
  auto log = std::make_shared<FakeLog>();
  FakeTransport bare(log, fake_options(0, 2));
  auto raw = bare.send(view_of(x, Device::cpu()), 1);
  e = error_of([&] { r.t->stream_wait(*raw, nullptr, milliseconds(1)); }, ErrorKind::Runtime);
  EXPECT_NE(e.find("not made by this transport"), std::string::npos) << e;
  EXPECT_EQ(log->ops.at(0)->host_waits, 0);
  EXPECT_EQ(other.device_log->ops.at(0)->stream_waits, 0);
}

TEST(RoutedTransport, StatsAreTheSumOfBothTransports) {
  Routed r({2}, TransportStats{10, 20, 1, 2}, TransportStats{300, 400, 3, 4});
  const TransportStats s = r.t->stats();
  EXPECT_EQ(s.bytes_sent, 310u);
  EXPECT_EQ(s.bytes_received, 420u);
  EXPECT_EQ(s.sends, 4u);
  EXPECT_EQ(s.recvs, 6u);
}

TEST(RoutedTransport, CarriesAnswersForEachPeersRoute) {
  Routed r({2});
  EXPECT_TRUE(r.t->carries(Device::cpu(), 0));  // host route
  EXPECT_FALSE(r.t->carries(Device::cuda(0), 0));
  EXPECT_TRUE(r.t->carries(Device::cuda(0), 2));  // device route
  EXPECT_FALSE(r.t->carries(Device::cpu(), 2));
}

TEST(RoutedTransport, FaultHookReachesBothTransports) {
  Routed r({2});
  std::vector<int> peers;
  r.t->set_fault_hook([&](const TensorView&, int peer) { peers.push_back(peer); });
  std::vector<float> x(2), y(2);
  r.t->send(view_of(x, Device::cuda(0)), 2);
  r.t->send(view_of(y, Device::cpu()), 3);
  EXPECT_EQ(peers, (std::vector<int>{2, 3}));
  EXPECT_EQ(r.device_log->hook_calls, 1);
  EXPECT_EQ(r.host_log->hook_calls, 1);
  r.t->set_fault_hook({});
  r.t->send(view_of(x, Device::cuda(0)), 2);
  EXPECT_EQ(peers.size(), 2u);
}

TEST(RoutedTransport, RefusesInconsistentArguments) {
  auto host = [](int rank = 1, int world = 4) {
    return std::make_unique<FakeTransport>(std::make_shared<FakeLog>(), fake_options(rank, world));
  };
  auto device = [](int rank = 1, int world = 4) {
    return std::make_unique<FakeTransport>(std::make_shared<FakeLog>(), fake_options(rank, world, Device::cuda(0), true));
  };
  auto fails = [](auto&& f, const std::string& want) {
    const std::string e = error_of(f, ErrorKind::Runtime);
    EXPECT_NE(e.find(want), std::string::npos) << e;
  };
  fails([&] { routed_transport_create(nullptr, device(), {}); }, "no host transport");
  fails([&] { routed_transport_create(host(), nullptr, {2}); },
        "routed transport rank 1: 1 peer(s) go over the device transport, and none was given");
  fails([&] { routed_transport_create(host(), device(2), {2}); }, "the device transport is rank 2 of 4");
  fails([&] { routed_transport_create(host(), device(1, 3), {2}); }, "rank 1 of 3");
  fails([&] { routed_transport_create(host(), device(), {1}); }, "device peer 1 is not another rank of 0..3");
  fails([&] { routed_transport_create(host(), device(), {4}); }, "device peer 4");
  fails([&] { routed_transport_create(host(), device(), {-1}); }, "device peer -1");
}

}  // namespace
}  // namespace ps::test
