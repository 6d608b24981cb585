// A Transport whose ranks live in one process: messages really move (the bytes are copied when a
// send meets its receive), so code above the transport -- the stage executor -- runs for real on
// threads without sockets. It keeps the Transport contract (runtime/comm/transport.h): the n-th
// message that rank A posts to B meets the n-th receive that B posts from A, tensors and int32
// spans alike; a size mismatch fails both ends naming both ranks; a wait past its deadline is a
// Timeout naming the operation. A send completes when its receive is posted (as a rendezvous),
// which is when its memory may be reused.
//
// The hub logs every message as (sender, receiver, bytes) in the order sends were posted, so a
// test can check where a sender sent. close() fails every pending and later operation, so a test
// whose rank failed ends at once instead of at each peer's deadline.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "runtime/comm/net.h"
#include "runtime/comm/transport.h"
#include "runtime/core/error.h"

namespace ps::test {

struct MemoryMessage {
  int src = 0, dst = 0;
  size_t bytes = 0;
  bool tensor = false;  // a tensor, else an int32 span
  friend bool operator==(const MemoryMessage&, const MemoryMessage&) = default;
};

class MemoryHub : public std::enable_shared_from_this<MemoryHub> {
 public:
  static std::shared_ptr<MemoryHub> create(int world) { return std::shared_ptr<MemoryHub>(new MemoryHub(world)); }

  // Rank `rank`'s end. The hub lives as long as any transport made from it.
  std::unique_ptr<Transport> transport(int rank);

  std::vector<MemoryMessage> log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  // Operations posted and not yet matched (a clean run ends with none).
  size_t unmatched() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& [key, link] : links_) n += link.sends.size() + link.recvs.size();
    return n;
  }
  // Fails every pending operation, and every later one, with `why`.
  void close(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_.empty()) return;
    closed_ = why;
    for (auto& [key, link] : links_) {
      for (auto* q : {&link.sends, &link.recvs})
        for (auto& op : *q) op->error = op->what + ": " + why;
      link.sends.clear();
      link.recvs.clear();
    }
    cv_.notify_all();
  }
  int world() const { return world_; }

 private:
  friend class MemoryTransport;
  friend class MemoryCompletion;

  struct Op {
    void* data = nullptr;
    size_t nbytes = 0;
    std::string what;  // "memory rank 1: recv from rank 0 (message #3, 64 bytes)"
    bool done = false;
    std::string error;
  };
  struct Link {  // one direction between two ranks, in posting order
    std::deque<std::shared_ptr<Op>> sends, recvs;
    uint64_t sent = 0, received = 0;  // messages posted so far
  };

  explicit MemoryHub(int world) : world_(world), stats_(static_cast<size_t>(world)) {}

  std::shared_ptr<Op> post(bool send, int self, int peer, void* data, size_t nbytes, bool tensor) {
    const char* verb = send ? "send to" : "recv from";
    if (peer < 0 || peer >= world_ || peer == self)
      fail_runtime("memory rank ", self, ": ", verb, " rank ", peer, ": not a peer (ranks 0..", world_ - 1,
                   " other than this one)");
    const int src = send ? self : peer, dst = send ? peer : self;
    auto op = std::make_shared<Op>();
    op->data = data;
    op->nbytes = nbytes;
    std::lock_guard<std::mutex> lock(mu_);
    Link& link = links_[{src, dst}];
    op->what = str("memory rank ", self, ": ", verb, " rank ", peer, " (message #", send ? link.sent++ : link.received++,
                   ", ", nbytes, " bytes)");
    if (!closed_.empty()) {
      op->error = op->what + ": " + closed_;
      return op;
    }
    if (send) log_.push_back({src, dst, nbytes, tensor});
    (send ? link.sends : link.recvs).push_back(op);
    while (!link.sends.empty() && !link.recvs.empty()) {
      Op& s = *link.sends.front();
      Op& r = *link.recvs.front();
      if (s.nbytes == r.nbytes) {
        if (s.nbytes > 0) std::memcpy(r.data, s.data, s.nbytes);
        stats_[static_cast<size_t>(src)].bytes_sent += s.nbytes;
        stats_[static_cast<size_t>(src)].sends += 1;
        stats_[static_cast<size_t>(dst)].bytes_received += s.nbytes;
        stats_[static_cast<size_t>(dst)].recvs += 1;
      } else {
        const std::string why = str("size mismatch: rank ", dst, " expects ", r.nbytes, " bytes but rank ", src,
                                    " sent ", s.nbytes);
        s.error = s.what + ": " + why;
        r.error = r.what + ": " + why;
      }
      s.done = r.done = true;
      link.sends.pop_front();
      link.recvs.pop_front();
    }
    cv_.notify_all();
    return op;
  }

  void wait(const std::shared_ptr<Op>& op, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    const auto bounded = std::min<std::chrono::milliseconds>(timeout, std::chrono::hours(24 * 365));
    if (!cv_.wait_for(lock, bounded, [&] { return op->done || !op->error.empty(); }))
      fail_timeout(op->what, ": not done within ", duration_str(timeout));
    if (!op->error.empty()) fail_runtime(op->error);
  }
  bool test(const std::shared_ptr<Op>& op) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!op->error.empty()) fail_runtime(op->error);
    return op->done;
  }
  TransportStats stats(int rank) const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_[static_cast<size_t>(rank)];
  }

  const int world_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<int, int>, Link> links_;  // (src, dst)
  std::vector<MemoryMessage> log_;
  std::vector<TransportStats> stats_;
  std::string closed_;
};

class MemoryCompletion final : public Completion {
 public:
  MemoryCompletion(std::shared_ptr<MemoryHub> hub, std::shared_ptr<MemoryHub::Op> op)
      : hub_(std::move(hub)), op_(std::move(op)) {}
  void wait(std::chrono::milliseconds timeout) override { hub_->wait(op_, timeout); }
  bool test() override { return hub_->test(op_); }

 private:
  std::shared_ptr<MemoryHub> hub_;
  std::shared_ptr<MemoryHub::Op> op_;
};

class MemoryTransport final : public Transport {
 public:
  MemoryTransport(std::shared_ptr<MemoryHub> hub, int rank) : hub_(std::move(hub)), rank_(rank) {}

  int rank() const override { return rank_; }
  int world() const override { return hub_->world(); }
  std::unique_ptr<Completion> send(const TensorView& t, int peer) override {
    check_host(t);
    if (hook_) hook_(t, peer);
    return done(hub_->post(true, rank_, peer, t.data, t.nbytes(), true));
  }
  std::unique_ptr<Completion> recv(const TensorView& t, int peer) override {
    check_host(t);
    return done(hub_->post(false, rank_, peer, t.data, t.nbytes(), true));
  }
  std::unique_ptr<Completion> send_i32(std::span<const int32_t> v, int peer) override {
    return done(hub_->post(true, rank_, peer, const_cast<int32_t*>(v.data()), v.size_bytes(), false));
  }
  std::unique_ptr<Completion> recv_i32(std::span<int32_t> v, int peer) override {
    return done(hub_->post(false, rank_, peer, v.data(), v.size_bytes(), false));
  }
  TransportStats stats() const override { return hub_->stats(rank_); }
  bool carries(const Device& device, int) const override { return device.is_cpu(); }
  void set_fault_hook(FaultHook hook) override { hook_ = std::move(hook); }

 private:
  void check_host(const TensorView& t) const {
    if (!t.device.is_cpu()) fail_runtime("memory rank ", rank_, ": a tensor on ", t.device.str(), " (host memory only)");
  }
  std::unique_ptr<Completion> done(std::shared_ptr<MemoryHub::Op> op) {
    return std::make_unique<MemoryCompletion>(hub_, std::move(op));
  }

  std::shared_ptr<MemoryHub> hub_;
  int rank_;
  FaultHook hook_;
};

inline std::unique_ptr<Transport> MemoryHub::transport(int rank) {
  PS_CHECK(rank >= 0 && rank < world_, "memory transport rank ", rank, " of ", world_);
  return std::make_unique<MemoryTransport>(shared_from_this(), rank);
}

}  // namespace ps::test
