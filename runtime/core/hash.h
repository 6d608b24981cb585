// The two small hashes the project uses, written once: splitmix64 (Steele, Lea, Flood; Vigna's
// constants) and FNV-1a 64. Their bits are part of what users see -- the sampling stream, the
// random weights of make-model, bench request ids -- so never change them; tests compare them
// with independent reference values.
#pragma once

#include <cstdint>
#include <string_view>

namespace ps {

// splitmix64's finaliser: a bijection of 64-bit words that spreads every input bit over the
// output (neighbouring inputs give unrelated outputs).
constexpr uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline constexpr uint64_t kSplitmix64Gamma = 0x9e3779b97f4a7c15ull;

// splitmix64 as a hash: the finaliser of x plus the generator's increment.
constexpr uint64_t splitmix64(uint64_t x) { return splitmix64_mix(x + kSplitmix64Gamma); }

// splitmix64 as a generator: advances `state` by the increment and returns its mix.
constexpr uint64_t splitmix64_next(uint64_t& state) { return splitmix64_mix(state += kSplitmix64Gamma); }

// FNV-1a 64 over the bytes of `s`.
constexpr uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

}  // namespace ps
