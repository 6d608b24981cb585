// The NCCL transport's logic (runtime/comm/nccl_transport.cpp) against a stand-in for NCCL and
// CUDA in host memory (nccl_fake.h): matching in posting order, ordering against the compute
// stream through events, the watchdog and Completion::wait aborting a channel within their
// deadlines with errors that name the peer, NCCL's asynchronous errors, size mismatches, and
// teardown. Runs everywhere; no GPU, no NCCL.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "comm/fake_transport.h"
#include "comm/nccl_fake.h"
#include "runtime/comm/nccl_transport.h"
#include "runtime/core/error.h"

namespace ps::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// The rendezvous store in memory (the transport only needs set/get/check).
class MemStore final : public Store {
 public:
  void set(const std::string& key, std::span<const uint8_t> value) override {
    std::lock_guard<std::mutex> lock(mu_);
    kv_[key].assign(value.begin(), value.end());
    cv_.notify_all();
  }
  std::vector<uint8_t> get(const std::string& key, milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return kv_.count(key) != 0; })) fail_timeout("store: no key ", key);
    return kv_[key];
  }
  void wait(const std::vector<std::string>& keys, milliseconds timeout) override {
    for (const auto& k : keys) get(k, timeout);
  }
  int64_t add(const std::string&, int64_t) override { fail_runtime("MemStore::add is not used"); }
  bool check(const std::vector<std::string>& keys) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& k : keys)
      if (kv_.count(k) == 0) return false;
    return true;
  }
  bool has(const std::string& key) { return check({key}); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<uint8_t>> kv_;
};

// "Device" tensors: host vectors labelled cuda:0 (the stand-in moves host bytes).
TensorView dev_view(std::vector<float>& v) {
  TensorView t;
  t.data = v.data();
  t.dtype = DType::F32;
  t.device = Device::cuda(0);
  t.shape = Shape{static_cast<int64_t>(v.size())};
  return t;
}

std::vector<float> iota_from(size_t n, float start) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Two ranks on one fabric, each with its own api table, compute stream and transport.
struct Pair {
  FakeFabric fabric;
  MemStore store;
  FakeRank r0{fabric, 0}, r1{fabric, 1};
  void* compute0 = r0.new_stream();
  void* compute1 = r1.new_stream();
  std::unique_ptr<Transport> t0, t1;

  NcclTransportOptions options(int rank, milliseconds op_timeout = milliseconds(60000),
                               milliseconds init_timeout = milliseconds(10000)) {
    NcclTransportOptions o;
    o.rank = rank;
    o.world = 2;
    o.device = 0;
    o.compute_stream = rank == 0 ? compute0 : compute1;
    o.op_timeout = op_timeout;
    o.init_timeout = init_timeout;
    return o;
  }
  void start(milliseconds op_timeout = milliseconds(60000), milliseconds init_timeout = milliseconds(10000)) {
    t0 = nccl_transport_create(store, r0.api(), options(0, op_timeout, init_timeout));
    t1 = nccl_transport_create(store, r1.api(), options(1, op_timeout, init_timeout));
  }
};

// Waits until c.test() throws (the watchdog failed it) and returns the error with the time it took.
std::pair<Error, milliseconds> error_of(Completion& c, milliseconds limit) {
  const auto start = Clock::now();
  while (Clock::now() - start < limit) {
    try {
      if (c.test()) ADD_FAILURE() << "the operation completed";
    } catch (const Error& e) {
      return {e, std::chrono::duration_cast<milliseconds>(Clock::now() - start)};
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  ADD_FAILURE() << "no error within " << limit.count() << " ms";
  return {Error(ErrorKind::Runtime, ""), limit};
}

constexpr milliseconds kWait{10000};

TEST(NcclLogicTest, MatchesInPostingOrderInBothDirectionsWithoutDeadlock) {
  Pair p;
  p.start();
  std::vector<float> a = iota_from(4, 1), b = iota_from(8, 100), c = iota_from(3, 7);
  std::vector<float> ra(4, -1), rb(8, -1), rc(3, -1);
  // Both ranks send before they receive: one communicator per direction keeps this safe.
  auto s_a = p.t0->send(dev_view(a), 1);
  auto s_b = p.t0->send(dev_view(b), 1);
  auto s_c = p.t1->send(dev_view(c), 0);
  auto r_c = p.t0->recv(dev_view(rc), 1);
  auto r_a = p.t1->recv(dev_view(ra), 0);
  auto r_b = p.t1->recv(dev_view(rb), 0);
  for (Completion* x : {s_a.get(), s_b.get(), s_c.get(), r_a.get(), r_b.get(), r_c.get()}) x->wait(kWait);
  EXPECT_EQ(ra, a);
  EXPECT_EQ(rb, b);
  EXPECT_EQ(rc, c);
  EXPECT_TRUE(p.store.has("nccl/0->1/id"));
  EXPECT_TRUE(p.store.has("nccl/1->0/id"));
  EXPECT_EQ(p.fabric.comm_inits(), 4);  // two directions, two ends each
  const TransportStats s0 = p.t0->stats(), s1 = p.t1->stats();
  EXPECT_EQ(s0.sends, 2u);
  EXPECT_EQ(s0.bytes_sent, 48u);
  EXPECT_EQ(s0.recvs, 1u);
  EXPECT_EQ(s0.bytes_received, 12u);
  EXPECT_EQ(s1.recvs, 2u);
  EXPECT_EQ(s1.bytes_received, 48u);
}

TEST(NcclLogicTest, ManyMessagesBeyondTheHeaderRingKeepTheirOrder) {
  Pair p;
  p.start();
  constexpr int kMessages = 150;  // more than the 64 in flight a channel allows
  std::vector<std::vector<float>> sent, got;
  for (int i = 0; i < kMessages; ++i) {
    sent.push_back(iota_from(static_cast<size_t>(1 + i % 5), static_cast<float>(i * 10)));
    got.emplace_back(sent.back().size(), -1.0f);
  }
  std::thread receiver([&] {
    std::this_thread::sleep_for(milliseconds(50));  // the sender fills the ring first
    std::vector<std::unique_ptr<Completion>> cs;
    for (int i = 0; i < kMessages; ++i) cs.push_back(p.t1->recv(dev_view(got[static_cast<size_t>(i)]), 0));
    for (auto& c : cs) c->wait(kWait);
  });
  std::vector<std::unique_ptr<Completion>> cs;
  for (int i = 0; i < kMessages; ++i) cs.push_back(p.t0->send(dev_view(sent[static_cast<size_t>(i)]), 1));
  for (auto& c : cs) c->wait(kWait);
  receiver.join();
  EXPECT_EQ(got, sent);
  EXPECT_EQ(p.t1->stats().recvs, static_cast<uint64_t>(kMessages));
}

TEST(NcclLogicTest, SendReadsTheTensorOnlyAfterTheComputeEnqueuedBeforeIt) {
  Pair p;
  p.start();
  std::vector<float> x(4, 1.0f), got(4, -1.0f);
  // The "kernel" that produces x is held behind a gate on rank 0's compute stream.
  auto gate = p.fabric.add_gate(p.compute0);
  p.fabric.add_host_fn(p.compute0, [&] { std::fill(x.begin(), x.end(), 7.0f); });
  auto s = p.t0->send(dev_view(x), 1);
  auto r = p.t1->recv(dev_view(got), 0);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(r->test()) << "the send ran before the compute it was posted behind";
  EXPECT_FALSE(s->test());
  p.fabric.open_gate(gate);
  r->wait(kWait);
  s->wait(kWait);
  EXPECT_EQ(got, std::vector<float>(4, 7.0f));
}

// Rank 0 sends while its compute stream is held; `stream_wait(r)` must make rank 1's compute
// stream wait for the receive on the device: a "kernel" enqueued after it runs only once the
// data has arrived, and sees it. `before(r)` runs first (checks on the pending receive).
void expect_compute_waits_for_receive(Pair& p, const std::function<void(Completion&)>& stream_wait,
                                      const std::function<void(Completion&)>& before = {}) {
  std::vector<float> x = iota_from(5, 3), got(5, -1.0f), seen;
  auto gate = p.fabric.add_gate(p.compute0);  // holds rank 0's send back
  auto r = p.t1->recv(dev_view(got), 0);
  auto s = p.t0->send(dev_view(x), 1);
  if (before) before(*r);
  stream_wait(*r);  // returns before the data arrives: the stream waits
  std::atomic<bool> ran{false};
  p.fabric.add_host_fn(p.compute1, [&] {  // a "kernel" that consumes the received tensor
    seen = got;
    ran = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(ran.load()) << "compute ran before the receive completed";
  p.fabric.open_gate(gate);
  r->wait(kWait);
  s->wait(kWait);
  const auto start = Clock::now();
  while (!ran.load() && Clock::now() - start < kWait) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_EQ(seen, x);
}

TEST(NcclLogicTest, StreamWaitOrdersComputeAfterTheReceive) {
  Pair p;
  p.start();
  expect_compute_waits_for_receive(p, [&](Completion& r) { nccl_stream_wait(r, p.compute1, kWait); });
}

TEST(NcclLogicTest, CarriesItsOwnGpuOnly) {
  Pair p;
  p.start();
  EXPECT_TRUE(p.t0->carries(Device::cuda(0), 1));
  EXPECT_FALSE(p.t0->carries(Device::cuda(1), 1));
  EXPECT_FALSE(p.t0->carries(Device::cpu(), 1));
}

TEST(NcclLogicTest, TransportStreamWaitWaitsOnTheDeviceAndRefusesOtherTransportsCompletions) {
  Pair p;
  p.start();
  auto log = std::make_shared<FakeLog>();
  FakeTransport other(log, fake_options(0, 2));
  const auto refused = [&](Completion& r) {
    // rank 0's transport did not make r (nor does it have a host transport to hand it to).
    try {
      p.t0->stream_wait(r, p.compute0, kWait);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("nccl rank 0: stream_wait: the completion comes from another NCCL transport"),
                std::string::npos)
          << e.what();
    }
    auto foreign = other.send_i32(std::vector<int32_t>{1}, 1);
    try {
      p.t0->stream_wait(*foreign, p.compute0, kWait);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("nccl rank 0: stream_wait: the completion comes from another transport"),
                std::string::npos)
          << e.what();
    }
    EXPECT_EQ(log->ops.at(0)->host_waits, 0);
  };
  expect_compute_waits_for_receive(p, [&](Completion& r) { p.t1->stream_wait(r, p.compute1, kWait); }, refused);
}

TEST(NcclLogicTest, Int32MessagesAndTheirStreamWaitsGoToTheHostTransport) {
  Pair p;
  auto log = std::make_shared<FakeLog>();
  NcclTransportOptions o = p.options(0);
  o.host = std::make_unique<FakeTransport>(log, fake_options(0, 2));
  p.t0 = nccl_transport_create(p.store, p.r0.api(), std::move(o));
  std::vector<int32_t> ids(3);
  auto s = p.t0->send_i32(ids, 1);
  auto r = p.t0->recv_i32(std::span<int32_t>(ids).first(2), 1);
  EXPECT_EQ(log->whats(), (std::vector<std::string>{"send_i32[3] to 1", "recv_i32[2] from 1"}));
  p.t0->stream_wait(*r, p.compute0, milliseconds(321));  // the host transport's default: a host wait
  EXPECT_EQ(log->ops.at(1)->host_waits, 1);
  EXPECT_EQ(log->ops.at(1)->last_timeout, milliseconds(321));
  EXPECT_EQ(log->ops.at(0)->host_waits, 0);
}

TEST(NcclLogicTest, WatchdogAbortsAPeerThatStopsReceivingWithinTheDeadline) {
  Pair p;
  p.start(milliseconds(200));
  std::vector<float> x = iota_from(4, 0), got(4);
  auto first_recv = p.t1->recv(dev_view(got), 0);
  p.t0->send(dev_view(x), 1)->wait(kWait);  // the channel works...
  first_recv->wait(kWait);
  auto hung = p.t0->send(dev_view(x), 1);  // ...then rank 1 never posts the matching receive
  const auto [err, took] = error_of(*hung, milliseconds(5000));
  EXPECT_EQ(err.kind(), ErrorKind::Timeout);
  const std::string msg = err.what();
  EXPECT_NE(msg.find("nccl rank 0: send to rank 1 (message #1, f32[4], 16 bytes)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank 1 may have died"), std::string::npos) << msg;
  EXPECT_NE(msg.find("aborted"), std::string::npos) << msg;
  EXPECT_LT(took.count(), 2000) << "the watchdog fired long after the 200 ms deadline";
  EXPECT_GE(p.fabric.aborts(0), 1) << "ncclCommAbort was not called";
}

TEST(NcclLogicTest, WaitTimeoutAbortsTheChannelAndNamesThePeer) {
  Pair p;
  p.start();  // op_timeout 60 s: only the caller's deadline can end this
  std::vector<float> x(8);
  auto s = p.t0->send(dev_view(x), 1);  // rank 1 never posts anything
  const auto start = Clock::now();
  try {
    s->wait(milliseconds(150));
    FAIL() << "no timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Timeout);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("send to rank 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not done after"), std::string::npos) << msg;
  }
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  EXPECT_GE(p.fabric.aborts(0), 1);
  // The channel stays failed: a later message fails at once, naming the same peer.
  auto again = p.t0->send(dev_view(x), 1);
  EXPECT_THROW(again->test(), Error);
}

TEST(NcclLogicTest, SetUpTimeoutNamesTheMissingPeer) {
  Pair p;
  p.t0 = nccl_transport_create(p.store, p.r0.api(), p.options(0, milliseconds(60000), milliseconds(200)));
  std::vector<float> x(2);
  auto s = p.t0->send(dev_view(x), 1);  // rank 1 does not exist
  const auto [err, took] = error_of(*s, milliseconds(5000));
  EXPECT_EQ(err.kind(), ErrorKind::Timeout);
  const std::string msg = err.what();
  EXPECT_NE(msg.find("was not set up within 200 ms (is rank 1 alive"), std::string::npos) << msg;
  EXPECT_LT(took.count(), 2000);
}

TEST(NcclLogicTest, AsyncErrorOfADeadPeerSurfacesNamingIt) {
  Pair p;
  p.start();  // op_timeout 60 s: the error must come from ncclCommGetAsyncError
  std::vector<float> x = iota_from(3, 0), got(3);
  auto r = p.t1->recv(dev_view(got), 0);
  p.t0->send(dev_view(x), 1)->wait(kWait);
  r->wait(kWait);
  auto pending = p.t0->send(dev_view(x), 1);
  p.fabric.kill(1);
  const auto [err, took] = error_of(*pending, milliseconds(5000));
  EXPECT_EQ(err.kind(), ErrorKind::Runtime);
  const std::string msg = err.what();
  EXPECT_NE(msg.find("send to rank 1 (message #1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("NCCL reported an error on the channel to rank 1: remote process exited"), std::string::npos)
      << msg;
  EXPECT_LT(took.count(), 2000);
  EXPECT_GE(p.fabric.aborts(0), 1);
}

TEST(NcclLogicTest, SizeMismatchNamesBothRanksAndSizes) {
  Pair p;
  p.start(milliseconds(200));
  std::vector<float> x(4), got(8);
  auto s = p.t0->send(dev_view(x), 1);
  auto r = p.t1->recv(dev_view(got), 0);
  const auto [err, took] = error_of(*r, milliseconds(5000));
  EXPECT_EQ(err.kind(), ErrorKind::Runtime);
  const std::string msg = err.what();
  EXPECT_NE(msg.find("nccl rank 1: recv from rank 0 (message #0, f32[8], 32 bytes): size mismatch: rank 1 "
                     "expects 32 bytes but rank 0 sent 16"),
            std::string::npos)
      << msg;
}

TEST(NcclLogicTest, GroupsStillEnqueueingAreSettledBeforeTheNextCall) {
  Pair p;
  p.fabric.set_group_end_pending(3);
  p.start();
  std::vector<float> x = iota_from(6, 2), got(6);
  auto s = p.t0->send(dev_view(x), 1);
  auto r = p.t1->recv(dev_view(got), 0);
  s->wait(kWait);
  r->wait(kWait);
  EXPECT_EQ(got, x);
}

TEST(NcclLogicTest, EmptyTensorsTravelAsHeadersOnly) {
  Pair p;
  p.start();
  std::vector<float> none, x = iota_from(2, 9), got(2);
  TensorView empty = dev_view(none);
  auto s0 = p.t0->send(empty, 1);
  auto s1 = p.t0->send(dev_view(x), 1);
  auto r0 = p.t1->recv(empty, 0);
  auto r1 = p.t1->recv(dev_view(got), 0);
  for (Completion* c : {s0.get(), s1.get(), r0.get(), r1.get()}) c->wait(kWait);
  EXPECT_EQ(got, x);
}

TEST(NcclLogicTest, RejectsHostTensorsBadPeersAndInt32WithoutAHostTransport) {
  Pair p;
  p.start();
  std::vector<float> x(2);
  TensorView host = dev_view(x);
  host.device = Device::cpu();
  EXPECT_THROW(p.t0->send(host, 1), Error);
  try {
    p.t0->send(dev_view(x), 5);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no peer rank 5"), std::string::npos) << e.what();
  }
  std::vector<int32_t> ids{1, 2};
  try {
    p.t0->send_i32(ids, 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("host transport"), std::string::npos) << e.what();
  }
}

TEST(NcclLogicTest, ClosingCancelsPendingMessages) {
  Pair p;
  p.start();
  std::vector<float> x(3);
  auto r = p.t1->recv(dev_view(x), 0);  // never sent
  p.t1.reset();
  try {
    r->test();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cancelled: the transport was closed"), std::string::npos) << e.what();
  }
  p.t0.reset();
}

TEST(NcclLogicTest, FaultHookSeesEachSentTensor) {
  Pair p;
  p.start();
  std::vector<float> x = iota_from(3, 1), got(3);
  p.t0->set_fault_hook([](const TensorView& t, int) { static_cast<float*>(t.data)[0] = -5.0f; });
  auto s = p.t0->send(dev_view(x), 1);
  auto r = p.t1->recv(dev_view(got), 0);
  s->wait(kWait);
  r->wait(kWait);
  EXPECT_EQ(got[0], -5.0f);
  EXPECT_EQ(got[1], 2.0f);
}

}  // namespace
}  // namespace ps::test
