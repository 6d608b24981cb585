// Byte counts that cannot wrap. The cost model multiplies model dimensions (each up to 2^31) by a
// workload (sequences x prompt x new tokens): a KV cache or an activation of a valid spec and
// workload can exceed what int64 counts. Such a count saturates at kBytesMax, "more than any
// device holds", so every memory check rejects it with its usual message -- where an out-of-range
// double-to-int cast is undefined behaviour and a wrapped sum turns negative and "fits".
#pragma once

#include <cstdint>
#include <limits>

namespace ps {

constexpr int64_t kBytesMax = std::numeric_limits<int64_t>::max();

// A byte count computed in double, as int64: kBytesMax when it does not fit (>= 2^63, +inf, NaN:
// "does not fit" is the safe reading of a count nobody can compute). Not a count (< 0): 0.
constexpr int64_t bytes_from_double(double v) {
  if (!(v < 0x1p63)) return kBytesMax;  // 2^63 is the first double past INT64_MAX; NaN fails too
  return v > 0.0 ? static_cast<int64_t>(v) : 0;
}

// a + b and a * b clamped to the int64 range (C++26's std::add_sat / std::mul_sat).
inline int64_t add_sat(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kBytesMax : std::numeric_limits<int64_t>::min();
  return r;
}

inline int64_t mul_sat(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return (a < 0) == (b < 0) ? kBytesMax : std::numeric_limits<int64_t>::min();
  return r;
}

}  // namespace ps
