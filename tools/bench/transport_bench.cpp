// Transport bandwidth against message size (Google Benchmark), after nccl-tests' sendrecv: two
// ranks of one process, each on its own thread with its own Gloo transport, connected through our
// rendezvous store over loopback TCP -- the path activations take between two stages of one
// machine.
//
//   BM_SendRecv  both ranks send `bytes` to the other and receive as much at once (nccl-tests
//                sendrecv with two ranks); GB/s = bytes / time, per direction (algbw = busbw).
//   BM_PingPong  rank 0 sends, rank 1 sends it back; one_way_us = half the round trip and
//                GB/s = bytes / one-way time: what one stage-to-stage transfer costs.
//
// As nccl-tests does, every message is derived from (run, rank, word, iteration) and what arrived
// is checked after the timed loop; a wrong word fails the benchmark with its position.
//
//   build-*/bin/transport_bench [--benchmark_filter=PingPong]
// The figures feed a cluster spec's same_device_link (configs/clusters/cpu-2core.json).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "kernels/owned_tensor.h"
#include "runtime/comm/gloo_transport.h"
#include "runtime/comm/tcp_store_client.h"
#include "runtime/comm/tcp_store_server.h"
#include "runtime/core/error.h"
#include "runtime/core/hash.h"

namespace ps {
namespace {

constexpr auto kWait = std::chrono::seconds(60);
const std::string kToken = "transport-bench-token-0123456789";

enum class Kind { PingPong, SendRecv };

struct Job {
  Kind kind = Kind::PingPong;
  size_t bytes = 0;
  int64_t iterations = 0;
  uint64_t run = 0;  // numbers the benchmark's runs, so a message left over from another run fails the check
};

// ---- the messages: known words, checked on arrival -------------------------------------------
// Word j of what `rank` sends in `run`, filled once before the timed loop. Each iteration then
// stamps its number into the first and the last word (two stores, negligible in the timing), so
// the check sees the last iteration's whole message rather than an earlier one.
uint32_t message_word(uint64_t run, int rank, size_t j) {
  return static_cast<uint32_t>(splitmix64_mix((run << 40) ^ (static_cast<uint64_t>(rank) << 36) ^ j));
}

uint32_t* words(const OwnedTensor& t) { return static_cast<uint32_t*>(t.view.data); }
size_t word_count(const OwnedTensor& t) { return t.view.nbytes() / sizeof(uint32_t); }

void message_fill(const OwnedTensor& t, uint64_t run, int rank) {
  uint32_t* w = words(t);
  for (size_t j = 0; j < word_count(t); ++j) w[j] = message_word(run, rank, j);
}

void message_stamp(const OwnedTensor& t, uint64_t run, int rank, int64_t iteration) {
  uint32_t* w = words(t);
  const size_t last = word_count(t) - 1;
  w[0] = message_word(run, rank, 0) ^ static_cast<uint32_t>(iteration);
  w[last] = message_word(run, rank, last) ^ static_cast<uint32_t>(iteration);
}

std::string hex32(uint32_t w) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", w);
  return buf;
}

// Empty when `got` holds what `from` sent in the last iteration of `job`; else names the first
// wrong word.
std::string message_check(const OwnedTensor& got, const Job& job, int self, int from) {
  const uint32_t* w = words(got);
  const size_t n = word_count(got), last = n - 1;
  const auto stamp = static_cast<uint32_t>(job.iterations - 1);
  for (size_t j = 0; j < n; ++j) {
    const uint32_t want = message_word(job.run, from, j) ^ (j == 0 || j == last ? stamp : 0u);
    if (w[j] != want)
      return str("rank ", self, " received a wrong message from rank ", from, " (", job.bytes, " bytes, iteration ",
                 job.iterations - 1, "): word ", j, " of ", n, " is ", hex32(w[j]), ", expected ", hex32(want));
  }
  return {};
}

// Rank 1 mirrors rank 0's operations: the benchmark body (rank 0) posts a job with the exact
// iteration count Google Benchmark will run (State::max_iterations), waits until rank 1 has
// filled its buffers, then both run it; rank 1 reports its check with `done`.
class Pair {
 public:
  Pair() : server_(TcpStoreServerOptions{"127.0.0.1", 0, kToken, std::chrono::milliseconds(10000)}) {
    std::unique_ptr<Transport> t1;
    std::thread peer_setup([&] { t1 = connect(1); });
    t0_ = connect(0);
    peer_setup.join();
    peer_ = std::thread([this, t = std::move(t1)]() mutable { peer_loop(*t); });
  }
  ~Pair() {
    post(std::nullopt);
    peer_.join();
  }

  Transport& rank0() { return *t0_; }
  void post(std::optional<Job> job) {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = job;
    has_job_ = true;
    ready_ = done_ = false;
    cv_.notify_all();
  }
  void wait_ready() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return ready_; });
  }
  // Rank 1's check of what it received (empty when right).
  std::string wait_done() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return peer_error_;
  }

 private:
  std::unique_ptr<Transport> connect(int rank) {
    TcpStoreClientOptions c;
    c.port = server_.port();
    c.token = kToken;
    clients_[rank] = std::make_unique<TcpStoreClient>(c);
    GlooTransportOptions g;
    g.rank = rank;
    g.world = 2;
    return gloo_transport_create(*clients_[rank], g);
  }

  void peer_loop(Transport& t) {
    for (;;) {
      std::optional<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return has_job_; });
        has_job_ = false;
        job = job_;
      }
      if (!job) return;
      OwnedTensor in(Shape{static_cast<int64_t>(job->bytes / 4)}), out(Shape{static_cast<int64_t>(job->bytes / 4)});
      message_fill(out, job->run, 1);
      {
        std::lock_guard<std::mutex> lock(mu_);
        ready_ = true;
        cv_.notify_all();
      }
      for (int64_t i = 0; i < job->iterations; ++i) {
        if (job->kind == Kind::PingPong) {  // sends back what it received
          t.recv(in.view, 0)->wait(kWait);
          t.send(in.view, 0)->wait(kWait);
        } else {
          message_stamp(out, job->run, 1, i);
          auto r = t.recv(in.view, 0);
          auto s = t.send(out.view, 0);
          r->wait(kWait);
          s->wait(kWait);
        }
      }
      std::string error = message_check(in, *job, 1, 0);
      std::lock_guard<std::mutex> lock(mu_);
      peer_error_ = std::move(error);
      done_ = true;
      cv_.notify_all();
    }
  }

  TcpStoreServer server_;
  std::unique_ptr<TcpStoreClient> clients_[2];
  std::unique_ptr<Transport> t0_;
  std::thread peer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Job> job_;
  bool has_job_ = false, ready_ = false, done_ = false;
  std::string peer_error_;
};

Pair& pair() {
  static Pair p;  // torn down at exit, after the benchmarks
  return p;
}

void run(benchmark::State& state, Kind kind) {
  static uint64_t runs = 0;
  const size_t bytes = static_cast<size_t>(state.range(0));
  Pair& p = pair();
  OwnedTensor in(Shape{static_cast<int64_t>(bytes / 4)}), out(Shape{static_cast<int64_t>(bytes / 4)});
  const Job job{kind, bytes, static_cast<int64_t>(state.max_iterations), ++runs};
  message_fill(out, job.run, 0);
  p.post(job);
  p.wait_ready();
  Transport& t = p.rank0();
  int64_t i = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    message_stamp(out, job.run, 0, i++);
    auto s = t.send(out.view, 1);
    auto r = t.recv(in.view, 1);
    s->wait(kWait);
    r->wait(kWait);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string peer_error = p.wait_done();
  // A ping-pong comes back as rank 0 sent it; a sendrecv brings rank 1's message.
  const std::string error = message_check(in, job, 0, kind == Kind::PingPong ? 0 : 1);
  if (!error.empty() || !peer_error.empty()) {
    state.SkipWithError((error.empty() ? peer_error : error).c_str());
    return;
  }
  // Plain counters (Google Benchmark's rate flags would print "GB/s=.../s"). A ping-pong
  // iteration is two transfers one after the other; a sendrecv iteration one in each direction.
  const double per_op = kind == Kind::PingPong ? 0.5 : 1.0;
  const double transfer_s =
      seconds / static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1)) * per_op;
  state.counters["GB/s"] = static_cast<double>(bytes) / transfer_s * 1e-9;
  if (kind == Kind::PingPong) state.counters["one_way_us"] = transfer_s * 1e6;
}

void BM_PingPong(benchmark::State& state) { run(state, Kind::PingPong); }
void BM_SendRecv(benchmark::State& state) { run(state, Kind::SendRecv); }

BENCHMARK(BM_PingPong)
    ->ArgName("bytes")
    ->RangeMultiplier(4)
    ->Range(1 << 10, 1 << 26)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SendRecv)
    ->ArgName("bytes")
    ->RangeMultiplier(4)
    ->Range(1 << 10, 1 << 26)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ps

BENCHMARK_MAIN();
