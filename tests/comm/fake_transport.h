// A Transport that moves no data: it records what was posted on it and how its completions were
// waited for, so tests can check code that routes messages between transports (the routed
// transport, the NCCL transport's int32 path) without sockets or GPUs.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "runtime/comm/transport.h"
#include "runtime/core/error.h"

namespace ps::test {

// One posted operation, shared by its completion and the log.
struct FakeOp {
  std::string what;                 // "send f32[2, 3] to 1", "recv_i32[4] from 0"
  int host_waits = 0;               // Completion::wait calls
  std::chrono::milliseconds last_timeout{-1};
  void* stream_waited = nullptr;    // set by a device-style stream_wait
  int stream_waits = 0;
  std::string error;                // non-empty: wait() and test() fail with it
};

struct FakeLog {
  std::vector<std::shared_ptr<FakeOp>> ops;  // in posting order
  int hook_calls = 0;                        // the fault hook ran on a send of this transport
  std::vector<std::string> whats() const {
    std::vector<std::string> w;
    for (const auto& op : ops) w.push_back(op->what);
    return w;
  }
};

class FakeCompletion final : public Completion {
 public:
  FakeCompletion(const FakeLog* log, std::shared_ptr<FakeOp> op) : log_(log), op_(std::move(op)) {}
  void wait(std::chrono::milliseconds timeout) override {
    op_->host_waits += 1;
    op_->last_timeout = timeout;
    if (!op_->error.empty()) fail_runtime(op_->error);
  }
  bool test() override {
    if (!op_->error.empty()) fail_runtime(op_->error);
    return true;
  }
  const FakeLog* log() const { return log_; }
  FakeOp& op() { return *op_; }

 private:
  const FakeLog* log_;
  std::shared_ptr<FakeOp> op_;
};

struct FakeTransportOptions {
  int rank = 0, world = 2;
  Device carried = Device::cpu();  // the one device carries() accepts
  TransportStats stats;            // what stats() reports
  // True: stream_wait records the stream on the op (as NCCL makes a stream wait on the device)
  // and refuses a completion made elsewhere. False: the interface's default host wait.
  bool device_wait = false;
};

inline FakeTransportOptions fake_options(int rank, int world, Device carried = Device::cpu(), bool device_wait = false,
                                         TransportStats stats = {}) {
  FakeTransportOptions o;
  o.rank = rank;
  o.world = world;
  o.carried = carried;
  o.device_wait = device_wait;
  o.stats = stats;
  return o;
}

class FakeTransport final : public Transport {
 public:
  FakeTransport(std::shared_ptr<FakeLog> log, FakeTransportOptions o) : log_(std::move(log)), o_(o) {}

  int rank() const override { return o_.rank; }
  int world() const override { return o_.world; }
  std::unique_ptr<Completion> send(const TensorView& t, int peer) override {
    if (hook_) {
      hook_(t, peer);
      log_->hook_calls += 1;
    }
    return post(str("send ", dtype_name(t.dtype), t.shape.str(), " to ", peer));
  }
  std::unique_ptr<Completion> recv(const TensorView& t, int peer) override {
    return post(str("recv ", dtype_name(t.dtype), t.shape.str(), " from ", peer));
  }
  std::unique_ptr<Completion> send_i32(std::span<const int32_t> v, int peer) override {
    return post(str("send_i32[", v.size(), "] to ", peer));
  }
  std::unique_ptr<Completion> recv_i32(std::span<int32_t> v, int peer) override {
    return post(str("recv_i32[", v.size(), "] from ", peer));
  }
  TransportStats stats() const override { return o_.stats; }
  bool carries(const Device& device, int) const override { return device == o_.carried; }
  void stream_wait(Completion& c, void* stream, std::chrono::milliseconds timeout) override {
    if (!o_.device_wait) return Transport::stream_wait(c, stream, timeout);
    auto* fc = dynamic_cast<FakeCompletion*>(&c);
    if (fc == nullptr || fc->log() != log_.get()) fail_runtime("fake device transport: a foreign completion");
    fc->op().stream_waited = stream;
    fc->op().stream_waits += 1;
  }
  void set_fault_hook(FaultHook hook) override { hook_ = std::move(hook); }

 private:
  std::unique_ptr<Completion> post(std::string what) {
    auto op = std::make_shared<FakeOp>();
    op->what = std::move(what);
    log_->ops.push_back(op);
    return std::make_unique<FakeCompletion>(log_.get(), op);
  }

  std::shared_ptr<FakeLog> log_;
  FakeTransportOptions o_;
  FaultHook hook_;
};

}  // namespace ps::test
