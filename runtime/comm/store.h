// The rendezvous store: a small key-value store that every rank of a job shares while it starts
// (torchrun's TCPStore plays the same part). Rank 0 hosts it (TcpStoreServer); every rank talks
// to it through a TcpStoreClient. It carries the rendezvous, the Gloo addresses and the NCCL id.
// Every call that can block has a deadline; a call on a remote store fails with ps::Error naming
// the server and the operation when the server is gone.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/error.h"

namespace ps {

class Store {
 public:
  virtual ~Store() = default;

  // Sets (or replaces) key's value and wakes everyone waiting for it.
  virtual void set(const std::string& key, std::span<const uint8_t> value) = 0;
  // The key's value, waiting up to `timeout` for someone to set it; ps::Error(Timeout) naming
  // the key when it is still unset.
  virtual std::vector<uint8_t> get(const std::string& key, std::chrono::milliseconds timeout) = 0;
  // Waits until every key is set; ps::Error(Timeout) naming the keys still missing.
  virtual void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) = 0;
  // Adds delta to the integer at key (an unset key counts as 0) and returns the sum. The value is
  // kept as a decimal string, so get() reads "3". ps::Error when the value is not an integer.
  virtual int64_t add(const std::string& key, int64_t delta) = 0;
  // Whether every key is set, without waiting.
  virtual bool check(const std::vector<std::string>& keys) = 0;
  // Removes keys (absent ones are ignored): results are deleted once collected, so a long run's
  // store does not grow. Stores that never hold per-request keys may keep this default.
  virtual void erase(const std::vector<std::string>& keys) {
    if (!keys.empty()) fail_runtime("this store cannot erase keys");
  }
};

// Text values (ranks, world sizes, addresses) without casts at every call.
inline void store_set_string(Store& s, const std::string& key, std::string_view value) {
  s.set(key, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
}
inline std::string store_get_string(Store& s, const std::string& key, std::chrono::milliseconds timeout) {
  const std::vector<uint8_t> v = s.get(key, timeout);
  return std::string(v.begin(), v.end());
}

}  // namespace ps
