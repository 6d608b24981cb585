#include "runtime/comm/gloo_store_adapter.h"

#include <algorithm>

namespace ps {

void GlooStoreAdapter::set(const std::string& key, const std::vector<char>& data) {
  store_.set(prefix_ + key, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

std::vector<char> GlooStoreAdapter::get(const std::string& key) {
  const std::vector<uint8_t> v = store_.get(prefix_ + key, timeout_);
  return std::vector<char>(v.begin(), v.end());
}

void GlooStoreAdapter::wait(const std::vector<std::string>& keys) { wait(keys, timeout_); }

void GlooStoreAdapter::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  std::vector<std::string> prefixed(keys.size());
  std::transform(keys.begin(), keys.end(), prefixed.begin(), [&](const std::string& k) { return prefix_ + k; });
  // Gloo passes its context timeout here, or zero for "none" (gloo::kNoTimeout); never wait
  // longer than this adapter allows.
  store_.wait(prefixed, timeout.count() > 0 ? std::min(timeout, timeout_) : timeout_);
}

}  // namespace ps
