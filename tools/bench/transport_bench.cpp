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
//   build-*/bin/transport_bench [--benchmark_filter=PingPong]
// The figures feed a cluster spec's same_device_link (configs/clusters/cpu-2core.json).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "kernels/owned_tensor.h"
#include "runtime/comm/gloo_transport.h"
#include "runtime/comm/tcp_store_client.h"
#include "runtime/comm/tcp_store_server.h"

namespace ps {
namespace {

constexpr auto kWait = std::chrono::seconds(60);
const std::string kToken = "transport-bench-token-0123456789";

enum class Kind { PingPong, SendRecv };

struct Job {
  Kind kind = Kind::PingPong;
  size_t bytes = 0;
  int64_t iterations = 0;
};

// Rank 1 mirrors rank 0's operations: the benchmark body (rank 0) posts a job with the exact
// iteration count Google Benchmark will run (State::max_iterations), then both run it.
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
    done_ = false;
    cv_.notify_all();
  }
  void wait_done() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
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
      for (int64_t i = 0; i < job->iterations; ++i) {
        if (job->kind == Kind::PingPong) {
          t.recv(in.view, 0)->wait(kWait);
          t.send(in.view, 0)->wait(kWait);
        } else {
          auto r = t.recv(in.view, 0);
          auto s = t.send(out.view, 0);
          r->wait(kWait);
          s->wait(kWait);
        }
      }
      std::lock_guard<std::mutex> lock(mu_);
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
  bool has_job_ = false, done_ = false;
};

Pair& pair() {
  static Pair p;  // torn down at exit, after the benchmarks
  return p;
}

void run(benchmark::State& state, Kind kind) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  Pair& p = pair();
  OwnedTensor in(Shape{static_cast<int64_t>(bytes / 4)}), out(Shape{static_cast<int64_t>(bytes / 4)});
  p.post(Job{kind, bytes, static_cast<int64_t>(state.max_iterations)});
  Transport& t = p.rank0();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    auto s = t.send(out.view, 1);
    auto r = t.recv(in.view, 1);
    s->wait(kWait);
    r->wait(kWait);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  p.wait_done();
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
