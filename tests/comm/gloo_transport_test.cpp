// The Gloo transport between ranks on threads of this process (and, for a dead peer, a forked
// process): contents, posting-order matching with many messages in flight, byte counters, the
// fault hook, size mismatches, and deadlines that name the peer.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>

#include "comm_test_util.h"
#include "kernels/owned_tensor.h"
#include "runtime/comm/gloo_transport.h"

namespace ps::test {
namespace {

constexpr milliseconds kLong(30000);

// `world` connected transports, one per rank (built on threads: each waits for all the others).
// `peers[r]`: the ranks rank r connects to; none given: a full mesh.
struct Mesh {
  std::unique_ptr<TcpStoreServer> server = start_server();
  std::vector<std::unique_ptr<Transport>> t;
  explicit Mesh(int world, const std::vector<std::vector<int>>& peers = {}) : t(static_cast<size_t>(world)) {
    run_ranks(world, [&](int r) {
      GlooTransportOptions o;
      o.rank = r;
      o.world = world;
      o.connect_timeout = milliseconds(20000);
      if (!peers.empty()) o.peers = peers[static_cast<size_t>(r)];
      t[static_cast<size_t>(r)] = gloo_transport_create(*connect_client(*server), o);
    });
  }
  Transport& operator[](int r) { return *t[static_cast<size_t>(r)]; }
};

// Values no two (message, element) pairs share, so a message landing in the wrong receive shows.
OwnedTensor pattern(int64_t rows, int64_t cols, int message) {
  OwnedTensor h(Shape{rows, cols});
  for (int64_t i = 0; i < rows * cols; ++i) h.f32()[i] = static_cast<float>(message * 1000 + i) * 0.5f - 3.0f;
  return h;
}

void expect_equal(const OwnedTensor& got, const OwnedTensor& want) {
  ASSERT_EQ(got.view.numel(), want.view.numel());
  for (int64_t i = 0; i < got.view.numel(); ++i) ASSERT_EQ(got.f32()[i], want.f32()[i]) << "element " << i;
}

TEST(GlooTransport, SendsF32TensorsAndInt32SpansBothWays) {
  Mesh m(2);
  const OwnedTensor a = pattern(3, 4, 1), b = pattern(2, 5, 2);
  const std::vector<int32_t> ids = {0, -1, 7, INT32_MAX, INT32_MIN};
  OwnedTensor a_in(Shape{3, 4}), b_in(Shape{2, 5});
  std::vector<int32_t> ids_in(ids.size(), 42);

  auto s1 = m[0].send(a.view, 1);
  auto s2 = m[0].send_i32(ids, 1);
  auto s3 = m[1].send(b.view, 0);  // the other direction at the same time
  auto r1 = m[1].recv(a_in.view, 0);
  auto r2 = m[1].recv_i32(ids_in, 0);
  auto r3 = m[0].recv(b_in.view, 1);
  for (auto* c : {s1.get(), s2.get(), s3.get(), r1.get(), r2.get(), r3.get()}) c->wait(kLong);
  EXPECT_TRUE(r1->test());
  expect_equal(a_in, a);
  expect_equal(b_in, b);
  EXPECT_EQ(ids_in, ids);
}

TEST(GlooTransport, MessagesMatchInPostingOrderWithManyInFlight) {
  Mesh m(2);
  constexpr int kMessages = 24;
  std::vector<OwnedTensor> sent, got;
  std::vector<std::vector<int32_t>> ids_sent, ids_got;
  std::vector<std::unique_ptr<Completion>> sends, recvs;
  // The receiver posts first, every receive in flight at once; sizes differ per message.
  for (int i = 0; i < kMessages; ++i) {
    got.emplace_back(Shape{1 + i % 5, 3 + i});
    recvs.push_back(m[1].recv(got.back().view, 0));
    ids_got.emplace_back(static_cast<size_t>(i + 1), -1);
    recvs.push_back(m[1].recv_i32(ids_got.back(), 0));
  }
  for (int i = 0; i < kMessages; ++i) {
    sent.push_back(pattern(1 + i % 5, 3 + i, i));
    sends.push_back(m[0].send(sent.back().view, 1));
    ids_sent.emplace_back(static_cast<size_t>(i + 1));
    for (int j = 0; j <= i; ++j) ids_sent.back()[static_cast<size_t>(j)] = i * 100 + j;
    sends.push_back(m[0].send_i32(ids_sent.back(), 1));
  }
  // Waited for in reverse order: completion does not depend on the order of waiting.
  for (auto it = recvs.rbegin(); it != recvs.rend(); ++it) (*it)->wait(kLong);
  for (auto& s : sends) s->wait(kLong);
  for (int i = 0; i < kMessages; ++i) {
    expect_equal(got[static_cast<size_t>(i)], sent[static_cast<size_t>(i)]);
    EXPECT_EQ(ids_got[static_cast<size_t>(i)], ids_sent[static_cast<size_t>(i)]);
  }
}

TEST(GlooTransport, RingOfThreeRanks) {
  Mesh m(3);
  constexpr int kMessages = 6;
  std::vector<std::vector<OwnedTensor>> got(3);
  std::vector<std::vector<std::unique_ptr<Completion>>> ops(3);
  std::vector<OwnedTensor> sent;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < kMessages; ++i) sent.push_back(pattern(2, 8, r * 10 + i));
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < kMessages; ++i) {
      got[static_cast<size_t>(r)].emplace_back(Shape{2, 8});
      ops[static_cast<size_t>(r)].push_back(m[r].recv(got[static_cast<size_t>(r)].back().view, (r + 2) % 3));
      ops[static_cast<size_t>(r)].push_back(m[r].send(sent[static_cast<size_t>(r * kMessages + i)].view, (r + 1) % 3));
    }
  }
  for (auto& per_rank : ops)
    for (auto& c : per_rank) c->wait(kLong);
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < kMessages; ++i)
      expect_equal(got[static_cast<size_t>(r)][static_cast<size_t>(i)],
                   sent[static_cast<size_t>(((r + 2) % 3) * kMessages + i)]);
}

TEST(GlooTransport, CountsPayloadBytesAndMessages) {
  Mesh m(2);
  const OwnedTensor x = pattern(3, 4, 0);  // 48 bytes
  const std::vector<int32_t> ids(5, 1);   // 20 bytes
  OwnedTensor x_in(Shape{3, 4});
  std::vector<int32_t> ids_in(5);
  std::vector<int32_t> none_in;
  auto ops = {m[0].send(x.view, 1), m[0].send_i32(ids, 1), m[0].send_i32({}, 1), m[1].recv(x_in.view, 0),
              m[1].recv_i32(ids_in, 0), m[1].recv_i32(none_in, 0)};
  for (const auto& c : ops) c->wait(kLong);
  const TransportStats s0 = m[0].stats(), s1 = m[1].stats();
  EXPECT_EQ(s0.bytes_sent, 68u);
  EXPECT_EQ(s0.sends, 3u);
  EXPECT_EQ(s0.bytes_received, 0u);
  EXPECT_EQ(s0.recvs, 0u);
  EXPECT_EQ(s1.bytes_received, 68u);
  EXPECT_EQ(s1.recvs, 3u);
  EXPECT_EQ(s1.bytes_sent, 0u);
}

TEST(GlooTransport, FaultHookCorruptionIsSeenByTheReceiver) {
  Mesh m(2);
  int calls = 0;
  m[0].set_fault_hook([&](const TensorView& t, int peer) {
    ++calls;
    EXPECT_EQ(peer, 1);
    t.f32()[3] = NAN;
  });
  const OwnedTensor x = pattern(2, 4, 0);
  OwnedTensor x_in(Shape{2, 4}), y_in(Shape{2, 4});
  const std::vector<int32_t> ids = {5, 6};
  std::vector<int32_t> ids_in(2);
  auto s = m[0].send(x.view, 1);
  auto si = m[0].send_i32(ids, 1);  // spans do not pass through the hook
  auto r = m[1].recv(x_in.view, 0);
  auto ri = m[1].recv_i32(ids_in, 0);
  for (auto* c : {s.get(), si.get(), r.get(), ri.get()}) c->wait(kLong);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(std::isnan(x_in.f32()[3]));
  EXPECT_EQ(x_in.f32()[2], pattern(2, 4, 0).f32()[2]);
  EXPECT_EQ(ids_in, ids);

  m[0].set_fault_hook({});  // removed: the next tensor arrives as sent
  const OwnedTensor clean = pattern(2, 4, 1);
  auto s2 = m[0].send(clean.view, 1);
  auto r2 = m[1].recv(y_in.view, 0);
  s2->wait(kLong);
  r2->wait(kLong);
  expect_equal(y_in, clean);
  EXPECT_EQ(calls, 1);
}

TEST(GlooTransport, RecvWhosePeerNeverSendsTimesOutNamingThePeer) {
  Mesh m(3);
  OwnedTensor x(Shape{4});
  auto r = m[2].recv(x.view, 1);
  EXPECT_FALSE(r->test());
  const std::string e = error_of([&] { r->wait(milliseconds(200)); }, ErrorKind::Timeout);
  EXPECT_NE(e.find("gloo rank 2: recv from rank 1 (message #0, f32[4], 16 bytes): not done within 200 ms"),
            std::string::npos)
      << e;
}

TEST(GlooTransport, SizeMismatchNamesBothRanks) {
  Mesh m(2);
  const OwnedTensor x = pattern(1, 16, 0);
  OwnedTensor small(Shape{1, 8});
  auto s = m[0].send(x.view, 1);
  auto r = m[1].recv(small.view, 0);
  const std::string e = error_of([&] { r->wait(kLong); }, ErrorKind::Runtime);
  EXPECT_NE(e.find("gloo rank 1: recv from rank 0"), std::string::npos) << e;
  EXPECT_NE(e.find("size mismatch: rank 1 expects 32 bytes but rank 0 sent 64"), std::string::npos) << e;
}

TEST(GlooTransport, DestroyingTheTransportCancelsPendingOperations) {
  std::unique_ptr<Completion> pending;
  OwnedTensor x(Shape{4});
  {
    Mesh m(2);
    pending = m[1].recv(x.view, 0);
    m.t[1].reset();  // the owner goes first; otherwise rank 0 leaving would fail the receive
  }
  const std::string e = error_of([&] { pending->wait(kLong); }, ErrorKind::Runtime);
  EXPECT_NE(e.find("cancelled"), std::string::npos) << e;
}

TEST(GlooTransport, BadPeerAndDeviceTensorsAreRefused) {
  Mesh m(2);
  OwnedTensor x(Shape{4});
  EXPECT_NE(error_of([&] { m[0].send(x.view, 0); }, ErrorKind::Runtime).find("not a peer"), std::string::npos);
  EXPECT_NE(error_of([&] { m[0].recv(x.view, 2); }, ErrorKind::Runtime).find("not a peer"), std::string::npos);
  TensorView on_gpu = x.view;
  on_gpu.device = Device::cuda(0);
  EXPECT_NE(error_of([&] { m[0].send(on_gpu, 1); }, ErrorKind::Runtime).find("cuda:0"), std::string::npos);
}

TEST(GlooTransport, CarriesHostMemoryOnlyAndStreamWaitWaitsOnTheHost) {
  Mesh m(2);
  EXPECT_TRUE(m[0].carries(Device::cpu(), 1));
  EXPECT_FALSE(m[0].carries(Device::cuda(0), 1));
  const OwnedTensor a = pattern(2, 3, 5);
  OwnedTensor a_in(Shape{2, 3});
  auto r = m[1].recv(a_in.view, 0);
  auto s = m[0].send(a.view, 1);
  m[1].stream_wait(*r, nullptr, kLong);  // no stream on the host: returns once the data is there
  EXPECT_TRUE(r->test());
  expect_equal(a_in, a);
  s->wait(kLong);
}

// A pipeline of three stages in one replica connects 0-1, 1-2 and 0-2 (tokens back); here a
// chain without the last pair: messages flow on the pairs it has, and a send or receive on the
// pair it lacks fails at once, naming both ranks, instead of waiting.
TEST(GlooTransport, ConnectsOnlyTheListedPeers) {
  Mesh m(3, {{1}, {0, 2}, {1}});
  const OwnedTensor a = pattern(2, 3, 1), b = pattern(2, 3, 2);
  OwnedTensor a_in(Shape{2, 3}), b_in(Shape{2, 3});
  auto s1 = m[0].send(a.view, 1);
  auto s2 = m[1].send(b.view, 2);
  auto r1 = m[1].recv(a_in.view, 0);
  auto r2 = m[2].recv(b_in.view, 1);
  for (auto* c : {s1.get(), s2.get(), r1.get(), r2.get()}) c->wait(kLong);
  expect_equal(a_in, a);
  expect_equal(b_in, b);
  const std::string es = error_of([&] { m[0].send(a.view, 2); }, ErrorKind::Runtime);
  EXPECT_EQ(es, "gloo rank 0: send to rank 2: rank 0 is not connected to rank 2 (its peers: 1)");
  const std::string er = error_of([&] { m[2].recv_i32(std::span<int32_t>(), 0); }, ErrorKind::Runtime);
  EXPECT_EQ(er, "gloo rank 2: recv from rank 0: rank 2 is not connected to rank 0 (its peers: 1)");
}

TEST(GlooTransport, PeerListsMustAgreeAndNameOtherRanks) {
  {
    // Rank 1 lists rank 0, which does not list it: rank 1 names the pair it cannot make.
    auto server = start_server();
    std::vector<std::string> errors(2);
    run_ranks(2, [&](int r) {
      GlooTransportOptions o;
      o.rank = r;
      o.world = 2;
      o.connect_timeout = milliseconds(5000);
      o.peers = r == 0 ? std::vector<int>{} : std::vector<int>{0};
      if (r == 0) {
        gloo_transport_create(*connect_client(*server), o);
        return;
      }
      errors[1] = error_of([&] { gloo_transport_create(*connect_client(*server), o); }, ErrorKind::Runtime);
    });
    EXPECT_NE(errors[1].find("gloo transport rank 1 of 2: connecting to the other ranks"), std::string::npos) << errors[1];
    EXPECT_NE(errors[1].find("rank 0 does not connect to rank 1"), std::string::npos) << errors[1];
  }
  auto server = start_server();
  GlooTransportOptions o;
  o.rank = 1;
  o.world = 3;
  o.peers = std::vector<int>{0, 1};
  EXPECT_EQ(error_of([&] { gloo_transport_create(*connect_client(*server), o); }, ErrorKind::InvalidInput),
            "gloo transport rank 1 of 3: peer 1 is not another rank of the job");
  o.peers = std::vector<int>{2, 2};
  EXPECT_EQ(error_of([&] { gloo_transport_create(*connect_client(*server), o); }, ErrorKind::InvalidInput),
            "gloo transport rank 1: peer 2 listed twice");
}

TEST(GlooTransport, BootstrapWithAMissingRankFailsAtItsDeadline) {
  auto server = start_server();
  GlooTransportOptions o;
  o.rank = 0;
  o.world = 2;
  o.connect_timeout = milliseconds(300);
  const std::string e = error_of([&] { gloo_transport_create(*connect_client(*server), o); }, ErrorKind::Timeout);
  EXPECT_NE(e.find("gloo transport rank 0 of 2: connecting to the other ranks"), std::string::npos) << e;
  EXPECT_NE(e.find("'gloo/1'"), std::string::npos) << e;  // rank 1's addresses never arrived
}

// Rank 1 runs in a child process, which is then killed: rank 0's pending receive and a send posted
// afterwards fail with an error naming rank 1 instead of hanging. The fork comes first, while this
// process has no other thread (so the child may start its own, even under ThreadSanitizer); the
// child hosts the store and sends its port back through a pipe.
TEST(GlooTransport, KilledPeerFailsPendingRecvNamingTheRank) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  net::Fd port_in(pipe_fds[0]), port_out(pipe_fds[1]);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      port_in.reset();
      auto server = start_server();
      const uint16_t port = server->port();
      if (::write(port_out.get(), &port, sizeof(port)) != sizeof(port)) ::_exit(2);
      GlooTransportOptions o;
      o.rank = 1;
      o.world = 2;
      auto t = gloo_transport_create(*connect_client(*server), o);
      for (;;) ::pause();  // until killed
    } catch (...) {
      ::_exit(3);
    }
  }
  port_out.reset();
  uint16_t port = 0;
  pollfd p{port_in.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, static_cast<int>(kLong.count())), 1) << "the child never reported its store port";
  ASSERT_EQ(::read(port_in.get(), &port, sizeof(port)), static_cast<ssize_t>(sizeof(port)));
  TcpStoreClientOptions co;
  co.port = port;
  co.token = kToken;
  GlooTransportOptions o;
  o.rank = 0;
  o.world = 2;
  auto t = gloo_transport_create(*std::make_unique<TcpStoreClient>(co), o);
  OwnedTensor x(Shape{8});
  auto r = t->recv(x.view, 1);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited with " << WEXITSTATUS(status);
  // Runtime, not Timeout: the lost connection is noticed, not the deadline.
  const std::string e = error_of([&] { r->wait(kLong); }, ErrorKind::Runtime);
  EXPECT_NE(e.find("gloo rank 0: recv from rank 1"), std::string::npos) << e;
  EXPECT_NE(e.find("connection to rank 1 lost"), std::string::npos) << e;
  const OwnedTensor y = pattern(1, 8, 0);
  const std::string es = error_of([&] { t->send(y.view, 1)->wait(kLong); }, ErrorKind::Runtime);
  EXPECT_NE(es.find("gloo rank 0: send to rank 1"), std::string::npos) << es;
}

}  // namespace
}  // namespace ps::test
