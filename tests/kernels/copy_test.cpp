// ops::copy on the CPU against an independent reference, and the CPU backend's MemoryTable.
//
// The reference rounds by brute force, not by bit tricks: the non-negative values of a 16-bit
// format, listed in bit-pattern order (they increase with it), with the first pattern past the
// largest finite value standing for the overflow threshold (inf rounds like the next binade's
// first value, which is what IEEE's "overflow to inf" amounts to). A value rounds to the nearest
// entry, a tie to the even pattern. Every f16 and bf16 pattern is converted exhaustively; f32
// sources are random bit patterns over every exponent plus hand-picked values and halfway cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/common/backend.h"
#include "kernels/kernel_test_util.h"
#include "kernels/ops.h"

namespace ps::test {
namespace {

// ---- reference ---------------------------------------------------------------------------
uint32_t f32_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float f32_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// The value of a 16-bit pattern by the format's definition (ldexp, no bit reinterpretation for f16).
double ref_decode16(DType t, uint16_t h) {
  const double sign = (h & 0x8000u) ? -1.0 : 1.0;
  if (t == DType::BF16) {
    const int e = (h >> 7) & 0xff, m = h & 0x7f;
    if (e == 0xff) return m ? NAN : sign * INFINITY;
    return sign * (e == 0 ? std::ldexp(m, -133) : std::ldexp(128 + m, e - 134));
  }
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 0x1f) return m ? NAN : sign * INFINITY;
  return sign * (e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25));
}

// Non-negative values by pattern, 0 .. first inf pattern (which holds the overflow stand-in).
std::vector<double> ladder(DType t) {
  const uint16_t inf = t == DType::BF16 ? 0x7f80 : 0x7c00;
  std::vector<double> v;
  for (uint32_t h = 0; h < inf; ++h) v.push_back(ref_decode16(t, static_cast<uint16_t>(h)));
  v.push_back(t == DType::BF16 ? std::ldexp(1.0, 128) : std::ldexp(1.0, 16));
  return v;
}

// Nearest pattern to x, ties to even; NaN gives the format's quiet NaN (only NaN-ness is checked).
uint16_t ref_encode16(DType t, double x) {
  static const std::vector<double> f16_ladder = ladder(DType::F16), bf16_ladder = ladder(DType::BF16);
  const std::vector<double>& l = t == DType::BF16 ? bf16_ladder : f16_ladder;
  if (std::isnan(x)) return t == DType::BF16 ? 0x7fc0 : 0x7e00;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(x);
  size_t hi = static_cast<size_t>(std::lower_bound(l.begin(), l.end(), a) - l.begin());
  if (hi == l.size()) hi = l.size() - 1;  // past the overflow stand-in: inf
  size_t pick = hi;
  if (hi > 0 && l[hi] != a) {
    const double below = a - l[hi - 1], above = l[hi] - a;  // exact: both sides within a binade of a
    if (below < above || (below == above && (hi - 1) % 2 == 0)) pick = hi - 1;
  }
  return static_cast<uint16_t>(sign | pick);
}

// Element i of a buffer of dtype t as a double (NaN for NaN).
double ref_value(DType t, const std::vector<uint8_t>& buf, size_t i) {
  if (t == DType::F32) {
    uint32_t b;
    std::memcpy(&b, buf.data() + 4 * i, 4);
    return f32_of(b);
  }
  uint16_t h;
  std::memcpy(&h, buf.data() + 2 * i, 2);
  return ref_decode16(t, h);
}

// The bit pattern copy must produce for value x in dtype t (f32: x is exactly representable).
uint32_t ref_encode(DType t, double x) {
  return t == DType::F32 ? f32_bits(static_cast<float>(x)) : ref_encode16(t, x);
}

uint32_t pattern_at(DType t, const std::vector<uint8_t>& buf, size_t i) {
  if (t == DType::F32) {
    uint32_t b;
    std::memcpy(&b, buf.data() + 4 * i, 4);
    return b;
  }
  uint16_t h;
  std::memcpy(&h, buf.data() + 2 * i, 2);
  return h;
}

// ---- sources -----------------------------------------------------------------------------
std::vector<float> f32_sources() {
  std::vector<float> v = {1.0f, -2.5f, 65504.0f, 65519.99f, 65520.0f, -70000.0f, 1e-8f, -1e-8f, 1e-6f,
                          0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 3.0e38f, 1e-40f, 0.1f, -0.333333f};
  for (const uint32_t b : {0x3F808000u, 0x3F818000u, 0x3F808001u, 0x3F807FFFu, 0x7F7FFFFFu, 0x7F7F8000u,
                           0x7F7F7FFFu, 0x00008000u, 0x00018000u, 0x7FC00001u, 0xFF800001u})
    v.push_back(f32_of(b));
  // f16 halfway cases: an f16 value plus half its ulp (bit 12 of the f32 pattern), normals and
  // subnormals (k * 2^-25 with k odd lies halfway between two subnormals).
  for (const uint32_t b : {0x3F801000u, 0x3F803000u, 0x477FD000u, 0x477FF000u})
    v.push_back(f32_of(b));
  for (int k = 1; k < 12; k += 2) v.push_back(std::ldexp(static_cast<float>(k), -25));
  // Random bit patterns: every exponent, sign and mantissa.
  uint64_t s = 7;
  for (int i = 0; i < 300000; ++i) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    v.push_back(f32_of(static_cast<uint32_t>(z ^ (z >> 31))));
  }
  return v;
}

// Source buffer of dtype t: every pattern for f16/bf16, f32_sources() for f32.
std::vector<uint8_t> source_bytes(DType t) {
  if (t == DType::F32) {
    const std::vector<float> f = f32_sources();
    std::vector<uint8_t> b(f.size() * 4);
    std::memcpy(b.data(), f.data(), b.size());
    return b;
  }
  std::vector<uint8_t> b(65536 * 2);
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto p = static_cast<uint16_t>(h);
    std::memcpy(b.data() + 2 * h, &p, 2);
  }
  return b;
}

TensorView host_view(std::vector<uint8_t>& bytes, DType t, Shape s) {
  TensorView v;
  v.data = bytes.data();
  v.dtype = t;
  v.shape = s;
  return v;
}

// ---- the op ------------------------------------------------------------------------------
class CopyTest : public ::testing::TestWithParam<std::tuple<DType, DType, int>> {};

TEST_P(CopyTest, MatchesTheBruteForceRounding) {
  const auto [from, to, threads] = GetParam();
  CpuContext cpu(threads);
  std::vector<uint8_t> src = source_bytes(from);
  const size_t n = src.size() / dtype_size(from);
  std::vector<uint8_t> dst(n * dtype_size(to), 0xAB);  // poison: no element survives unwritten by chance
  ops::copy(cpu.ctx, host_view(src, from, Shape{static_cast<int64_t>(n)}),
            host_view(dst, to, Shape{1, static_cast<int64_t>(n)}));
  int wrong = 0;
  for (size_t i = 0; i < n && wrong < 10; ++i) {
    const double x = ref_value(from, src, i);
    const uint32_t got = pattern_at(to, dst, i);
    const bool ok = std::isnan(x) ? std::isnan(ref_value(to, dst, i)) : got == ref_encode(to, x);
    if (!ok) {
      ++wrong;
      ADD_FAILURE() << dtype_name(from) << " -> " << dtype_name(to) << " element " << i << ": source pattern 0x"
                    << std::hex << pattern_at(from, src, i) << " gave 0x" << got << ", expected 0x"
                    << ref_encode(to, x);
    }
  }
}

std::string copy_name(const ::testing::TestParamInfo<std::tuple<DType, DType, int>>& info) {
  return str(dtype_name(std::get<0>(info.param)), "_to_", dtype_name(std::get<1>(info.param)), "_threads",
             std::get<2>(info.param));
}
INSTANTIATE_TEST_SUITE_P(AllPairs, CopyTest,
                         ::testing::Combine(::testing::Values(DType::F32, DType::F16, DType::BF16),
                                            ::testing::Values(DType::F32, DType::F16, DType::BF16),
                                            ::testing::Values(1, 2)),
                         copy_name);

// Hand-computed patterns, so that the reference itself is checked against known answers.
TEST(CopyKnownValues, RoundToNearestEven) {
  struct Case {
    float x;
    DType to;
    uint16_t want;
  };
  const Case cases[] = {
      {1.0f, DType::F16, 0x3C00},         {-2.5f, DType::F16, 0xC100},
      {65504.0f, DType::F16, 0x7BFF},     {65520.0f, DType::F16, 0x7C00},  // the tie goes to inf (even)
      {65519.0f, DType::F16, 0x7BFF},     {1e-8f, DType::F16, 0x0000},     // below half the least subnormal
      {-1e-8f, DType::F16, 0x8000},       {1e-6f, DType::F16, 0x0011},     // 1e-6 * 2^24 = 16.78
      {0x1.8p-24f, DType::F16, 0x0002},   {0x1.4p-23f, DType::F16, 0x0002},  // subnormal ties: 1.5 -> 2, 2.5 -> 2
      {1.0f, DType::BF16, 0x3F80},        {-2.5f, DType::BF16, 0xC020},
      {f32_of(0x3F808000u), DType::BF16, 0x3F80},  // tie, 0x3F80 is even
      {f32_of(0x3F818000u), DType::BF16, 0x3F82},  // tie, 0x3F82 is even
      {f32_of(0x3F808001u), DType::BF16, 0x3F81},  // just above the tie
      {f32_of(0x7F7FFFFFu), DType::BF16, 0x7F80},  // FLT_MAX rounds to inf
      {INFINITY, DType::BF16, 0x7F80},    {-INFINITY, DType::F16, 0xFC00},
  };
  const CpuContext cpu(1);
  const OpContext& ctx = cpu.ctx;
  for (const Case& c : cases) {
    float x = c.x;
    uint16_t got = 0;
    TensorView src{&x, DType::F32, Device::cpu(), Shape{1}};
    ops::copy(ctx, src, TensorView{&got, c.to, Device::cpu(), Shape{1}});
    EXPECT_EQ(got, c.want) << c.x << " to " << dtype_name(c.to);
    EXPECT_EQ(ref_encode16(c.to, c.x), c.want) << "reference, " << c.x << " to " << dtype_name(c.to);
  }
  // NaN stays NaN, in both directions and between the 16-bit formats.
  float nan = NAN, back = 0.0f;
  uint16_t h = 0, b = 0;
  ops::copy(ctx, TensorView{&nan, DType::F32, Device::cpu(), Shape{1}}, TensorView{&h, DType::F16, Device::cpu(), Shape{1}});
  ops::copy(ctx, TensorView{&h, DType::F16, Device::cpu(), Shape{1}}, TensorView{&b, DType::BF16, Device::cpu(), Shape{1}});
  ops::copy(ctx, TensorView{&b, DType::BF16, Device::cpu(), Shape{1}}, TensorView{&back, DType::F32, Device::cpu(), Shape{1}});
  EXPECT_TRUE(std::isnan(ref_decode16(DType::F16, h))) << std::hex << h;
  EXPECT_TRUE(std::isnan(ref_decode16(DType::BF16, b))) << std::hex << b;
  EXPECT_TRUE(std::isnan(back));
  // Between the 16-bit formats: f16 65504 is bf16 65536 (0x477FE000 rounds up); bf16 65536 is f16 inf.
  uint16_t f16_max = 0x7BFF, as_bf16 = 0, as_f16 = 0;
  ops::copy(ctx, TensorView{&f16_max, DType::F16, Device::cpu(), Shape{1}},
            TensorView{&as_bf16, DType::BF16, Device::cpu(), Shape{1}});
  EXPECT_EQ(as_bf16, 0x4780);
  ops::copy(ctx, TensorView{&as_bf16, DType::BF16, Device::cpu(), Shape{1}},
            TensorView{&as_f16, DType::F16, Device::cpu(), Shape{1}});
  EXPECT_EQ(as_f16, 0x7C00);
}

TEST(CopyErrors, NamesTheOpAndTheTensors) {
  const CpuContext cpu(1);
  const OpContext& ctx = cpu.ctx;
  std::vector<float> a(6), b(8);
  try {
    ops::copy(ctx, view_of(a, Shape{2, 3}), view_of(b, Shape{8}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "copy: src [2, 3] has 6 elements, dst [8] has 8");
  }
  TensorView dev = view_of(b, Shape{2, 4});
  dev.device = Device::cuda(0);
  try {
    ops::copy(ctx, view_of(b, Shape{8}), dev);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "copy: dst is on cuda:0, the CPU backend copies host memory only");
  }
  try {
    ops::copy(ctx, dev, view_of(b, Shape{8}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "copy: src is on cuda:0, the CPU backend copies host memory only");
  }
  // The same memory as another dtype would read elements already overwritten.
  TensorView half = view_of(b, Shape{8});
  half.dtype = DType::F16;
  EXPECT_THROW(ops::copy(ctx, view_of(b, Shape{8}), half), Error);
}

TEST(CopyErrors, OntoItselfIsANoOpAndEmptyIsFine) {
  const CpuContext cpu(1);
  const OpContext& ctx = cpu.ctx;
  std::vector<float> a = {1.5f, -2.0f, 3.25f};
  ops::copy(ctx, view_of(a, Shape{3}), view_of(a, Shape{3}));
  EXPECT_EQ(a, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  ops::copy(ctx, TensorView{nullptr, DType::F16, Device::cpu(), Shape{0, 4}},
            TensorView{nullptr, DType::F32, Device::cpu(), Shape{0}});
}

// ---- the memory table --------------------------------------------------------------------
TEST(CpuMemoryTable, AllocZeroUploadAndFree) {
  const MemoryTable& m = cpu_backend().memory;
  for (const size_t bytes : {size_t{1}, size_t{100}, size_t{4096}, size_t{1} << 20}) {
    auto* p = static_cast<uint8_t*>(m.alloc(0, bytes));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes << " bytes";
    std::memset(p, 0x5A, bytes);
    m.zero(0, p, bytes);
    EXPECT_EQ(std::count(p, p + bytes, uint8_t{0}), static_cast<std::ptrdiff_t>(bytes));

    auto* host = static_cast<uint8_t*>(m.host_alloc(bytes));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(host) % 64, 0u);
    for (size_t i = 0; i < bytes; ++i) host[i] = static_cast<uint8_t>(i * 7 + 1);
    void* stream = m.stream_create(0);
    EXPECT_EQ(stream, nullptr);
    m.upload_async(p, host, bytes, stream);
    m.synchronize(stream);
    for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(p[i], static_cast<uint8_t>(i * 7 + 1)) << "byte " << i;
    m.stream_destroy(stream);
    m.host_free(host);
    m.free(0, p);
  }
  m.free(0, nullptr);
  m.host_free(nullptr);
  EXPECT_THROW(m.alloc(1, 8), Error);
  try {
    m.alloc(0, SIZE_MAX - 8);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), str("cpu: cannot allocate ", SIZE_MAX - 8, " bytes"));
  }
}

TEST(CpuMemoryTable, MemInfoAndEvents) {
  const MemoryTable& m = cpu_backend().memory;
  size_t free_bytes = 0, total_bytes = 0;
  m.mem_info(0, &free_bytes, &total_bytes);
  EXPECT_GT(free_bytes, 0u);
  EXPECT_LE(free_bytes, total_bytes);
  m.set_device(0);
  EXPECT_THROW(m.set_device(1), Error);
  void* e1 = m.event_create();
  void* e2 = m.event_create();
  ASSERT_NE(e1, nullptr);
  EXPECT_NE(e1, e2);
  m.event_record(e1, nullptr);
  m.event_synchronize(e1);
  m.event_destroy(e1);
  m.event_destroy(e2);
}

}  // namespace
}  // namespace ps::test
