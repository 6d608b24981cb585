#include "runtime/comm/fault_injection.h"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

#include "runtime/core/error.h"

namespace ps {

Transport::FaultHook fault_corrupt_first_activation() {
  auto fired = std::make_shared<std::atomic<bool>>(false);
  return [fired](const TensorView& t, int peer) {
    if (t.dtype != DType::F32 || t.numel() == 0 || fired->exchange(true)) return;
    float& x = t.as<float>()[t.numel() - 1];
    // A change no rounding can hide: activations here are O(1), so the logits move visibly.
    x = x + 1000.0f;
    std::fprintf(stderr, "fault injection: corrupted the activation sent to rank %d\n", peer);
  };
}

Transport::FaultHook fault_hook_from_env(const char* env_value, int rank) {
  if (!env_value || !*env_value) return {};
  int target = -1;
  const char* end = env_value + std::strlen(env_value);
  const auto [p, ec] = std::from_chars(env_value, end, target);
  if (ec != std::errc() || p != end || target < 0)
    fail_input(kFaultCorruptActivationEnv, "='", env_value, "': expected a rank number");
  return target == rank ? fault_corrupt_first_activation() : Transport::FaultHook{};
}

}  // namespace ps
