#include "runtime/comm/routed_transport.h"

#include <utility>

#include "runtime/core/error.h"

namespace ps {
namespace {

class RoutedTransport;

// A completion of one of the two inner transports, labelled with the routed transport that made
// it and the route it took, so that stream_wait can hand it back to the right transport.
class RoutedCompletion final : public Completion {
 public:
  RoutedCompletion(const RoutedTransport* owner, bool on_device, std::unique_ptr<Completion> inner)
      : owner_(owner), on_device_(on_device), inner_(std::move(inner)) {}

  void wait(std::chrono::milliseconds timeout) override { inner_->wait(timeout); }
  bool test() override { return inner_->test(); }

  const RoutedTransport* owner() const { return owner_; }
  bool on_device() const { return on_device_; }
  Completion& inner() { return *inner_; }

 private:
  const RoutedTransport* owner_;
  bool on_device_;
  std::unique_ptr<Completion> inner_;
};

class RoutedTransport final : public Transport {
 public:
  RoutedTransport(std::unique_ptr<Transport> host, std::unique_ptr<Transport> device, std::set<int> device_peers)
      : host_(std::move(host)), device_(std::move(device)), device_peers_(std::move(device_peers)) {
    if (!host_) fail_runtime("routed transport: no host transport");
    const int rank = host_->rank(), world = host_->world();
    if (device_peers_.empty()) return;
    if (!device_)
      fail_runtime("routed transport rank ", rank, ": ", device_peers_.size(),
                   " peer(s) go over the device transport, and none was given");
    if (device_->rank() != rank || device_->world() != world)
      fail_runtime("routed transport rank ", rank, ": the device transport is rank ", device_->rank(), " of ",
                   device_->world(), ", the host transport rank ", rank, " of ", world);
    for (int peer : device_peers_)
      if (peer < 0 || peer >= world || peer == rank)
        fail_runtime("routed transport rank ", rank, ": device peer ", peer, " is not another rank of 0..",
                     world - 1);
  }

  int rank() const override { return host_->rank(); }
  int world() const override { return host_->world(); }

  std::unique_ptr<Completion> send(const TensorView& t, int peer) override {
    const bool dev = on_device(peer);
    return wrap(dev, route(dev).send(t, peer));
  }
  std::unique_ptr<Completion> recv(const TensorView& t, int peer) override {
    const bool dev = on_device(peer);
    return wrap(dev, route(dev).recv(t, peer));
  }
  // int32 spans live in host memory, which only the host transport moves.
  std::unique_ptr<Completion> send_i32(std::span<const int32_t> v, int peer) override {
    return wrap(false, host_->send_i32(v, peer));
  }
  std::unique_ptr<Completion> recv_i32(std::span<int32_t> v, int peer) override {
    return wrap(false, host_->recv_i32(v, peer));
  }

  TransportStats stats() const override {
    TransportStats s = host_->stats();
    if (device_) {
      const TransportStats d = device_->stats();
      s.bytes_sent += d.bytes_sent;
      s.bytes_received += d.bytes_received;
      s.sends += d.sends;
      s.recvs += d.recvs;
    }
    return s;
  }

  // The host route's answer: only the peers in device_peers get tensors over `device`.
  bool carries(const Device& device, int peer) const override {
    return device_peers_.count(peer) ? device_->carries(device, peer) : host_->carries(device, peer);
  }

  void stream_wait(Completion& c, void* stream, std::chrono::milliseconds timeout) override {
    auto* rc = dynamic_cast<RoutedCompletion*>(&c);
    if (rc == nullptr || rc->owner() != this)
      fail_runtime("routed transport rank ", rank(), ": stream_wait: the completion was not made by this transport");
    route(rc->on_device()).stream_wait(rc->inner(), stream, timeout);
  }

  void set_fault_hook(FaultHook hook) override {
    if (device_) device_->set_fault_hook(hook);
    host_->set_fault_hook(std::move(hook));
  }

 private:
  bool on_device(int peer) const { return device_peers_.count(peer) != 0; }
  Transport& route(bool on_device) const { return on_device ? *device_ : *host_; }
  std::unique_ptr<Completion> wrap(bool on_device, std::unique_ptr<Completion> inner) const {
    return std::make_unique<RoutedCompletion>(this, on_device, std::move(inner));
  }

  std::unique_ptr<Transport> host_, device_;
  std::set<int> device_peers_;
};

}  // namespace

std::unique_ptr<Transport> routed_transport_create(std::unique_ptr<Transport> host, std::unique_ptr<Transport> device,
                                                   std::set<int> device_peers) {
  return std::make_unique<RoutedTransport>(std::move(host), std::move(device), std::move(device_peers));
}

}  // namespace ps
