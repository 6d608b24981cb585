// Gloo bootstraps its TCP pairs through a gloo::rendezvous::Store (each rank publishes its
// listening addresses and reads the others'). This adapter puts that traffic in our store, under
// a prefix so several transports (or retries) can share one store, and gives every call a
// deadline: Gloo's own Store interface has a get() without one.
#pragma once

#include <gloo/rendezvous/store.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/comm/store.h"

namespace ps {

class GlooStoreAdapter final : public gloo::rendezvous::Store {
 public:
  GlooStoreAdapter(ps::Store& store, std::string prefix, std::chrono::milliseconds timeout)
      : store_(store), prefix_(std::move(prefix)), timeout_(timeout) {}

  void set(const std::string& key, const std::vector<char>& data) override;
  // Waits up to the adapter's timeout for the key.
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  ps::Store& store_;
  std::string prefix_;
  std::chrono::milliseconds timeout_;
};

}  // namespace ps
