// f16/bf16 <-> f32 conversions: exhaustive round trips, and f32 -> f16/bf16 against a brute-force
// nearest-value search with ties to even, across normals, subnormals, overflow, inf and NaN.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "runtime/core/dtype.h"

namespace ps {
namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Nearest representable value among `codes` (non-negative finite values, sorted ascending) with
// ties to the even code; values past the largest finite one by half an ulp or more overflow to inf.
uint16_t nearest_code(double x, const std::vector<std::pair<double, uint16_t>>& codes, double overflow_at,
                      uint16_t inf_code) {
  if (x >= overflow_at) return inf_code;
  auto hi = std::lower_bound(codes.begin(), codes.end(), std::make_pair(x, uint16_t{0}));
  if (hi == codes.end()) return codes.back().second;
  if (hi->first == x || hi == codes.begin()) return hi->second;
  auto lo = hi - 1;
  const double dl = x - lo->first, dh = hi->first - x;
  if (dl < dh) return lo->second;
  if (dh < dl) return hi->second;
  return (lo->second & 1u) == 0 ? lo->second : hi->second;
}

// Every positive finite value of a 16-bit format, decoded by the implementation under test
// (its decoding is separately checked against the IEEE formula below).
std::vector<std::pair<double, uint16_t>> positive_codes(float (*decode)(uint16_t), uint16_t inf_code) {
  std::vector<std::pair<double, uint16_t>> v;
  for (uint32_t c = 0; c < inf_code; ++c) v.emplace_back(decode(static_cast<uint16_t>(c)), static_cast<uint16_t>(c));
  return v;
}

TEST(DTypeTest, NamesParse) {
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    EXPECT_EQ(dtype_parse(dtype_name(t)), t);
    EXPECT_EQ(dtype_parse(dtype_safetensors_name(t)), t);
    EXPECT_EQ(dtype_parse(dtype_torch_name(t)), t);
  }
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_FALSE(dtype_parse("F64").has_value());
  EXPECT_FALSE(dtype_parse("").has_value());
}

TEST(DTypeTest, F16DecodeMatchesIeeeFormula) {
  for (uint32_t c = 0; c < 0x10000u; ++c) {
    const auto h = static_cast<uint16_t>(c);
    const int sign = (h >> 15) ? -1 : 1;
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    const float got = f16_to_f32(h);
    if (exp == 0x1f) {
      if (mant == 0) {
        EXPECT_EQ(got, sign * std::numeric_limits<float>::infinity());
      } else {
        EXPECT_TRUE(std::isnan(got)) << std::hex << c;
      }
      continue;
    }
    const double want = exp == 0 ? sign * std::ldexp(mant, -24) : sign * std::ldexp(1024 + mant, exp - 25);
    ASSERT_EQ(static_cast<double>(got), want) << std::hex << c;
    if (c == 0x8000u) {
      EXPECT_TRUE(std::signbit(got));
    }
  }
}

TEST(DTypeTest, F16RoundTripsEveryValue) {
  for (uint32_t c = 0; c < 0x10000u; ++c) {
    const auto h = static_cast<uint16_t>(c);
    const float f = f16_to_f32(h);
    if (std::isnan(f)) {
      const uint16_t back = f32_to_f16(f);
      EXPECT_EQ(back & 0x7c00u, 0x7c00u);
      EXPECT_NE(back & 0x3ffu, 0u) << "NaN must stay NaN: " << std::hex << c;
      EXPECT_EQ(back & 0x8000u, h & 0x8000u);
    } else {
      ASSERT_EQ(f32_to_f16(f), h) << std::hex << c;
    }
  }
}

TEST(DTypeTest, F16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(1.0f + 0x1.0p-11f), 0x3c00);          // halfway, even below
  EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1.0p-11f), 0x3c02);      // halfway, even above
  EXPECT_EQ(f32_to_f16(1.0f + 0x1.0p-11f + 0x1.0p-20f), 0x3c01);  // just above halfway
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);                   // largest finite
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);                   // halfway to 2^16 rounds to inf
  EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00);
  // Subnormals: units of 2^-24.
  EXPECT_EQ(f32_to_f16(0x1.0p-24f), 0x0001);
  EXPECT_EQ(f32_to_f16(0x1.0p-25f), 0x0000);                 // half a unit, ties to 0 (even)
  EXPECT_EQ(f32_to_f16(0x1.8p-25f), 0x0001);                 // 0.75 unit
  EXPECT_EQ(f32_to_f16(3 * 0x1.0p-25f), 0x0002);             // 1.5 units, ties to 2 (even)
  EXPECT_EQ(f32_to_f16(1023 * 0x1.0p-24f), 0x03ff);          // largest subnormal
  EXPECT_EQ(f32_to_f16(0x1.0p-14f), 0x0400);                 // smallest normal
  EXPECT_EQ(f32_to_f16(0x1.ffcp-15f), 0x0400);               // subnormal rounding up into the normals
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DTypeTest, F16MatchesBruteForceNearest) {
  const auto codes = positive_codes(f16_to_f32, 0x7c00);
  const double overflow_at = 65504.0 + 16.0;  // half an ulp (32) past the largest finite value
  // Every f32 exponent that lands in or near the f16 range, with mantissas that include the
  // halfway points (low bits zero) and arbitrary ones.
  uint64_t s = 12345;
  for (uint32_t e = 90; e < 146; ++e)
    for (int i = 0; i < 4000; ++i) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      uint32_t mant = static_cast<uint32_t>(s >> 41) & 0x7fffffu;
      if (i % 2) mant &= ~0x1fffu << (i % 7);  // many exact ties and near-ties
      const uint32_t b = (e << 23) | mant;
      const float f = float_of(b);
      const uint16_t want = nearest_code(f, codes, overflow_at, 0x7c00);
      ASSERT_EQ(f32_to_f16(f), want) << std::hexfloat << f;
      ASSERT_EQ(f32_to_f16(-f), want | 0x8000) << std::hexfloat << -f;
    }
}

TEST(DTypeTest, Bf16RoundTripsEveryValue) {
  for (uint32_t c = 0; c < 0x10000u; ++c) {
    const auto h = static_cast<uint16_t>(c);
    const float f = bf16_to_f32(h);
    EXPECT_EQ(bits_of(f), c << 16);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f)))) << std::hex << c;
    } else {
      ASSERT_EQ(f32_to_bf16(f), h) << std::hex << c;
    }
  }
}

TEST(DTypeTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1.0p-8f), 0x3f80);           // halfway, even below
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * 0x1.0p-8f), 0x3f82);       // halfway, even above
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1.0p-8f + 0x1.0p-20f), 0x3f81);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds past the top: inf
  EXPECT_EQ(f32_to_bf16(float_of(0x00010000u)), 0x0001);      // subnormal, exact
  EXPECT_EQ(f32_to_bf16(float_of(0x00018000u)), 0x0002);      // subnormal tie, to even
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  const uint16_t nan = f32_to_bf16(float_of(0x7f800001u));    // a NaN whose payload is in the low bits
  EXPECT_TRUE(std::isnan(bf16_to_f32(nan))) << std::hex << nan;
}

TEST(DTypeTest, Bf16MatchesBruteForceNearest) {
  const auto codes = positive_codes(bf16_to_f32, 0x7f80);
  const double max_finite = bf16_to_f32(0x7f7f);
  const double overflow_at = max_finite + std::ldexp(1.0, 127 - 8);  // half an ulp past it
  uint64_t s = 999;
  for (int i = 0; i < 400000; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t b = static_cast<uint32_t>(s >> 33) & 0x7f7fffffu;
    if (i % 2) b &= ~0x7fffu << (i % 3);
    const float f = float_of(b);
    ASSERT_EQ(f32_to_bf16(f), nearest_code(f, codes, overflow_at, 0x7f80)) << std::hexfloat << f;
  }
}

TEST(DTypeTest, BulkConversions) {
  const std::vector<float> src{0.0f, -1.5f, 3.140625f, 65504.0f, 0x1.0p-24f};
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    std::vector<uint8_t> packed(src.size() * dtype_size(t));
    convert_from_f32(t, src.data(), packed.data(), src.size());
    std::vector<float> back(src.size());
    convert_to_f32(t, packed.data(), back.data(), src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      float want = src[i];
      if (t == DType::F16) want = f16_to_f32(f32_to_f16(src[i]));
      if (t == DType::BF16) want = bf16_to_f32(f32_to_bf16(src[i]));
      EXPECT_EQ(back[i], want) << dtype_name(t) << " i=" << i;
    }
  }
  // These values are exact in f16: the bulk path must not lose them.
  std::vector<uint16_t> h(src.size());
  convert_from_f32(DType::F16, src.data(), h.data(), src.size());
  EXPECT_EQ(h, (std::vector<uint16_t>{0x0000, 0xbe00, 0x4248, 0x7bff, 0x0001}));
}

}  // namespace
}  // namespace ps
