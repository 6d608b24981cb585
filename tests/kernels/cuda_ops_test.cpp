// Every CUDA op against the CPU op it must equal, on fresh random inputs, in f32, f16 and bf16:
// relative L2 error <= 1e-5 in f32 and <= 1e-2 in f16/bf16, outputs poisoned with NaN first so an
// element the kernel did not write fails. The CPU reference runs on the inputs as the dtype rounds
// them. Sampling must give the very same tokens. Reported as SKIPPED, with the reason, in a CPU
// build or where no GPU is found.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/cuda_test_util.h"
#include "kernels/kernel_test_util.h"
#include "kernels/ops.h"

namespace ps::test {
namespace {

using ops::WeightLayout;

class CudaOpsTest : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    const std::string why = cuda_skip_reason();
    if (!why.empty()) GTEST_SKIP() << why;
    gpu.backend = cuda_backend_or_null();
    cpu.backend = &cpu_backend();
    cpu.workspace = &workspace;
  }

  DType dt() const { return GetParam(); }
  // Random values as the dtype stores them (so the CPU sees the GPU's inputs).
  std::vector<float> rnd(size_t n, float lo = -1.0f, float hi = 1.0f) {
    return rounded(random_floats(n, seed++, lo, hi), dt());
  }
  DeviceTensor dev(const std::vector<float>& v, Shape s) { return DeviceTensor(v, s, dt()); }
  DeviceTensor poisoned(Shape s) { return DeviceTensor(s, dt()); }
  // Also prints "[ cuda op ] <what> <dtype> rel_l2 <error>": tools/gpu_check.sh tabulates it.
  void expect_close(const DeviceTensor& got, const std::vector<float>& ref, const std::string& what) {
    const double e = rel_l2(got.host(), ref);
    std::printf("[ cuda op ] %s | %s | rel_l2 %.2e | limit %.0e\n", what.c_str(), dtype_name(dt()), e, tolerance(dt()));
    EXPECT_LE(e, tolerance(dt())) << what << " in " << dtype_name(dt()) << ": relative L2 error " << e;
  }

  OpContext gpu, cpu;
  Workspace workspace;
  uint64_t seed = 1;
};

std::string dtype_param_name(const ::testing::TestParamInfo<DType>& info) { return dtype_name(info.param); }
INSTANTIATE_TEST_SUITE_P(DTypes, CudaOpsTest, ::testing::Values(DType::F32, DType::F16, DType::BF16),
                         dtype_param_name);

TEST_P(CudaOpsTest, Activations) {
  using Op = void (*)(const OpContext&, const TensorView&);
  const std::pair<const char*, Op> all[] = {{"gelu_tanh", ops::gelu_tanh}, {"relu", ops::relu},
                                            {"gelu_erf", ops::gelu_erf},   {"silu", ops::silu},
                                            {"tanh", ops::tanh_act}};
  for (const auto& [name, op] : all) {
    std::vector<float> x = rnd(1537, -6.0f, 6.0f);
    DeviceTensor d = dev(x, Shape{1537});
    op(gpu, d.view());
    op(cpu, view_of(x, Shape{1537}));
    expect_close(d, x, name);
  }
}

TEST_P(CudaOpsTest, AddAndSiluMul) {
  const Shape s{7, 129};
  std::vector<float> a = rnd(7 * 129, -3, 3), b = rnd(7 * 129, -3, 3), ref(7 * 129);
  DeviceTensor da = dev(a, s), db = dev(b, s), out = poisoned(s);
  ops::add(gpu, da.view(), db.view(), out.view());
  ops::add(cpu, view_of(a, s), view_of(b, s), view_of(ref, s));
  expect_close(out, ref, "add");

  DeviceTensor out2 = poisoned(s);
  ops::silu_mul(gpu, da.view(), db.view(), out2.view());
  ops::silu_mul(cpu, view_of(a, s), view_of(b, s), view_of(ref, s));
  expect_close(out2, ref, "silu_mul");
  ops::silu_mul(gpu, da.view(), db.view(), da.view());  // out aliases gate
  expect_close(da, ref, "silu_mul in place");
}

TEST_P(CudaOpsTest, EmbeddingGatherRowsAndCopyColumns) {
  std::vector<float> table = rnd(50 * 24);
  const std::vector<int32_t> ids{3, 0, 49, 3, 17, 8, 8, 22, 1};
  DeviceTensor dt_table = dev(table, Shape{50, 24}), out = poisoned(Shape{9, 24});
  std::vector<float> ref(9 * 24);
  ops::embedding(gpu, dt_table.view(), ids, out.view(), false);
  ops::embedding(cpu, view_of(table, Shape{50, 24}), ids, view_of(ref, Shape{9, 24}), false);
  expect_close(out, ref, "embedding");
  ops::embedding(gpu, dt_table.view(), ids, out.view(), true);
  ops::embedding(cpu, view_of(table, Shape{50, 24}), ids, view_of(ref, Shape{9, 24}), true);
  expect_close(out, ref, "embedding accumulate");
  EXPECT_THROW(ops::embedding(gpu, dt_table.view(), std::vector<int32_t>{50}, poisoned(Shape{1, 24}).view(), false),
               Error);

  const std::vector<int32_t> rows{3, 0, 9, 3};
  std::vector<float> src = rnd(10 * 16), got_ref(4 * 16);
  DeviceTensor dsrc = dev(src, Shape{10, 16}), dst = poisoned(Shape{4, 16});
  ops::gather_rows(gpu, dsrc.view(), rows, dst.view());
  ops::gather_rows(cpu, view_of(src, Shape{10, 16}), rows, view_of(got_ref, Shape{4, 16}));
  expect_close(dst, got_ref, "gather_rows");

  std::vector<float> wide = rnd(5 * 30), cols(5 * 11);
  DeviceTensor dwide = dev(wide, Shape{5, 30}), dcols = poisoned(Shape{5, 11});
  ops::copy_columns(gpu, dwide.view(), 7, dcols.view());
  ops::copy_columns(cpu, view_of(wide, Shape{5, 30}), 7, view_of(cols, Shape{5, 11}));
  expect_close(dcols, cols, "copy_columns");
}

TEST_P(CudaOpsTest, LayerNormOfAnOffsetRowAndRmsNorm) {
  const Shape s{6, 300};
  std::vector<float> x = rnd(6 * 300, 49.0f, 51.0f), g = rnd(300, 0.5f, 1.5f), b = rnd(300), ref(6 * 300);
  DeviceTensor dx = dev(x, s), dg = dev(g, Shape{300}), db = dev(b, Shape{300}), out = poisoned(s);
  ops::layer_norm(gpu, dx.view(), dg.view(), db.view(), 1e-5f, out.view());
  ops::layer_norm(cpu, view_of(x, s), view_of(g, Shape{300}), view_of(b, Shape{300}), 1e-5f, view_of(ref, s));
  expect_close(out, ref, "layer_norm");
  ops::layer_norm(gpu, dx.view(), dg.view(), db.view(), 1e-5f, dx.view());  // in place
  expect_close(dx, ref, "layer_norm in place");

  const Shape r{5, 520};
  std::vector<float> y = rnd(5 * 520, -2, 2), w = rnd(520, 0.5f, 1.5f), ref2(5 * 520);
  DeviceTensor dy = dev(y, r), dw = dev(w, Shape{520}), out2 = poisoned(r);
  ops::rms_norm(gpu, dy.view(), dw.view(), 1e-6f, out2.view());
  ops::rms_norm(cpu, view_of(y, r), view_of(w, Shape{520}), 1e-6f, view_of(ref2, r));
  expect_close(out2, ref2, "rms_norm");
}

TEST_P(CudaOpsTest, LinearInBothLayoutsWithAndWithoutBias) {
  const int64_t in = 96, out_f = 40;
  for (const WeightLayout layout : {WeightLayout::OutIn, WeightLayout::InOut}) {
    for (const bool with_bias : {false, true}) {
      for (const int64_t n : {int64_t{1}, int64_t{7}}) {
        const Shape ws = layout == WeightLayout::OutIn ? Shape{out_f, in} : Shape{in, out_f};
        std::vector<float> x = rnd(static_cast<size_t>(n * in)), w = rnd(static_cast<size_t>(in * out_f)),
                           bias = rnd(static_cast<size_t>(out_f)), ref(static_cast<size_t>(n * out_f));
        DeviceTensor dx = dev(x, Shape{n, in}), dw = dev(w, ws), dbias = dev(bias, Shape{out_f});
        DeviceTensor out = poisoned(Shape{n, out_f});
        ops::linear(gpu, dx.view(), dw.view(), layout, with_bias ? dbias.view() : TensorView{}, out.view());
        ops::linear(cpu, view_of(x, Shape{n, in}), view_of(w, ws), layout,
                    with_bias ? view_of(bias, Shape{out_f}) : TensorView{}, view_of(ref, Shape{n, out_f}));
        expect_close(out, ref,
                     str("linear ", layout == WeightLayout::OutIn ? "OutIn" : "InOut", with_bias ? " +bias" : "",
                         " n=", n));
      }
    }
  }
}

TEST_P(CudaOpsTest, RopeAtLargePositionsWithPartialRotation) {
  const Shape s{5, 4, 32};
  const std::vector<int32_t> positions{0, 1, 17, 4095, 70000};
  const std::vector<float> inv_freq = ops::rope_inv_freq(10000.0, 24, RopeScaling{});  // 24 of 32 dims
  std::vector<float> x = rnd(5 * 4 * 32);
  DeviceTensor dx = dev(x, s);
  ops::rope(gpu, dx.view(), positions, inv_freq);
  ops::rope(cpu, view_of(x, s), positions, inv_freq);
  expect_close(dx, x, "rope");
}

TEST_P(CudaOpsTest, KvStoreWritesOnlyItsRows) {
  const Shape cs{3, 16, 2, 8};
  std::vector<float> ck = rnd(3 * 16 * 16), cv = rnd(3 * 16 * 16), k = rnd(4 * 16), v = rnd(4 * 16);
  DeviceTensor dck = dev(ck, cs), dcv = dev(cv, cs), dk = dev(k, Shape{4, 16}), dv = dev(v, Shape{4, 16});
  const std::vector<int32_t> slots{0, 2, 2, 1}, positions{5, 0, 1, 15};
  ops::kv_store(gpu, {dck.view(), dcv.view()}, dk.view(), dv.view(), slots, positions);
  ops::kv_store(cpu, {view_of(ck, cs), view_of(cv, cs)}, view_of(k, Shape{4, 16}), view_of(v, Shape{4, 16}), slots,
                positions);
  expect_close(dck, ck, "kv_store k");
  expect_close(dcv, cv, "kv_store v");
}

// Prefill rows of one slot, decode rows of others, GQA and MQA, head_dim up to 256 (the kernel's
// opt-in shared memory); cache positions no row may see are NaN, so reading one fails the test.
TEST_P(CudaOpsTest, AttentionPrefillDecodeAndGqaOverASlottedCache) {
  struct Geometry {
    int64_t heads, kv_heads, head_dim;
  };
  for (const Geometry g : {Geometry{8, 2, 32}, Geometry{4, 1, 128}, Geometry{2, 2, 256}}) {
    const int64_t slots_n = 3, max_ctx = 48, row = g.kv_heads * g.head_dim;
    std::vector<int32_t> slots, positions;
    for (int32_t p = 0; p < 13; ++p) {  // a prefill of slot 1
      slots.push_back(1);
      positions.push_back(p);
    }
    slots.insert(slots.end(), {0, 2, 0});  // decodes, and a second row of slot 0 later in the batch
    positions.insert(positions.end(), {40, 7, 20});
    const auto n = static_cast<int64_t>(slots.size());
    const Shape cs{slots_n, max_ctx, g.kv_heads, g.head_dim}, qs{n, g.heads, g.head_dim};
    std::vector<float> ck(static_cast<size_t>(cs.numel()), NAN), cv(ck);
    const int32_t last[3] = {40, 12, 7};  // the largest position each slot reaches
    for (int64_t s = 0; s < slots_n; ++s) {
      const std::vector<float> kr = rnd(static_cast<size_t>((last[s] + 1) * row)),
                               vr = rnd(static_cast<size_t>((last[s] + 1) * row));
      std::copy(kr.begin(), kr.end(), ck.begin() + s * max_ctx * row);
      std::copy(vr.begin(), vr.end(), cv.begin() + s * max_ctx * row);
    }
    std::vector<float> q = rnd(static_cast<size_t>(qs.numel()), -2, 2), ref(static_cast<size_t>(qs.numel()));
    DeviceTensor dck = dev(ck, cs), dcv = dev(cv, cs), dq = dev(q, qs), out = poisoned(qs);
    const float scale = 1.0f / std::sqrt(static_cast<float>(g.head_dim));
    ops::attention(gpu, dq.view(), {dck.view(), dcv.view()}, slots, positions, scale, out.view());
    ops::attention(cpu, view_of(q, qs), {view_of(ck, cs), view_of(cv, cs)}, slots, positions, scale,
                   view_of(ref, qs));
    expect_close(out, ref, str("attention heads=", g.heads, " kv_heads=", g.kv_heads, " head_dim=", g.head_dim));
  }
}

TEST_P(CudaOpsTest, SoftmaxAndLogSoftmax) {
  const Shape s{4, 3001};
  std::vector<float> x = rnd(4 * 3001, -10, 10), y = x;
  DeviceTensor dx = dev(x, s), dy = dev(y, s);
  ops::softmax(gpu, dx.view());
  ops::softmax(cpu, view_of(x, s));
  expect_close(dx, x, "softmax");
  ops::log_softmax(gpu, dy.view());
  ops::log_softmax(cpu, view_of(y, s));
  expect_close(dy, y, "log_softmax");
}

// copy from this dtype to every dtype, host -> device, device -> host and device -> device, must
// give the CPU op's bits (NaN only as NaN): specials, round-to-nearest-even ties of both 16-bit
// formats, f16 overflow and subnormals, and wide random values. Outputs are poisoned with NaN.
TEST_P(CudaOpsTest, CopyConvertsLikeTheCpuInEveryDirection) {
  std::vector<float> values = {1.0f,  -2.5f, 65504.0f, 65520.0f, -70000.0f, 1e-8f,   1e-6f,   0x1.8p-24f,
                               0.0f,  -0.0f, INFINITY, -INFINITY, NAN,      3.0e38f, 1e-40f, 0.1f};
  for (const uint32_t b : {0x3F808000u, 0x3F818000u, 0x3F808001u, 0x7F7FFFFFu, 0x3F801000u, 0x477FD000u}) {
    float f;
    std::memcpy(&f, &b, 4);
    values.push_back(f);
  }
  for (const float x : random_floats(5000, seed++, -1.0f, 1.0f))
    values.push_back(std::ldexp(x, static_cast<int>(std::fabs(x) * 1e4f) % 80 - 40));  // exponents -40..40
  const std::vector<float> src_values = rounded(values, dt());
  const auto n = static_cast<int64_t>(src_values.size());
  const Shape s{n};
  std::vector<uint8_t> src_bytes = encode(src_values, dt());
  const TensorView host_src{src_bytes.data(), dt(), Device::cpu(), s};
  DeviceTensor dev_src(src_values, s, dt());

  // The f32 values of a buffer, compared pattern by pattern; any NaN equals any NaN.
  const auto bits_equal = [](const std::vector<float>& got, const std::vector<float>& want) {
    int equal = 0;
    for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
      uint32_t g, w;
      std::memcpy(&g, &got[i], 4);
      std::memcpy(&w, &want[i], 4);
      equal += (std::isnan(got[i]) && std::isnan(want[i])) || g == w;
    }
    return equal;
  };
  for (const DType to : {DType::F32, DType::F16, DType::BF16}) {
    std::vector<uint8_t> want_bytes(static_cast<size_t>(n) * dtype_size(to));
    ops::copy(cpu, host_src, TensorView{want_bytes.data(), to, Device::cpu(), s});
    const std::vector<float> want = decode(want_bytes, to);
    const auto check = [&](const std::vector<float>& got, const char* direction) {
      const int equal = bits_equal(got, want);
      std::printf("[ cuda op ] copy %s %s->%s | %s | elements equal %d/%lld | limit all\n", direction,
                  dtype_name(dt()), dtype_name(to), dtype_name(dt()), equal, static_cast<long long>(n));
      EXPECT_EQ(equal, n) << "copy " << direction << " " << dtype_name(dt()) << " -> " << dtype_name(to);
    };

    DeviceTensor from_host(s, to);
    ops::copy(gpu, host_src, from_host.view());
    check(from_host.host(), "h2d");

    std::vector<uint8_t> to_host(want_bytes.size(), 0xFF);  // NaN in every dtype
    ops::copy(gpu, dev_src.view(), TensorView{to_host.data(), to, Device::cpu(), s});
    check(decode(to_host, to), "d2h");

    DeviceTensor on_device(s, to);
    ops::copy(gpu, dev_src.view(), on_device.view());
    check(on_device.host(), "d2d");
  }
  DeviceTensor short_dst(Shape{n - 1}, dt());
  EXPECT_THROW(ops::copy(gpu, dev_src.view(), short_dst.view()), Error);
}

// Same key, same logits: the same token, for every setting, on a peaked row (few candidates, the
// shared-memory path) and on a flat, wide one at high temperature (the whole-row path).
TEST_P(CudaOpsTest, SampleDrawsTheCpuTokens) {
  using ops::SamplingParams;
  const std::vector<SamplingParams> settings{{0.0f, 0, 1.0f, 0},   {0.7f, 0, 1.0f, 0},  {1.0f, 5, 1.0f, 0},
                                             {1.0f, 0, 0.9f, 0},   {0.8f, 50, 0.8f, 0}, {1.3f, 0, 0.95f, 0},
                                             {5.0f, 0, 1.0f, 0},   {5.0f, 3000, 0.99f, 0}};
  for (const auto& [vocab, spread] : {std::pair<int64_t, float>{1000, 12.0f}, {5000, 1.0f}}) {
    const int64_t n = static_cast<int64_t>(settings.size()) * 4;
    std::vector<float> logits = rnd(static_cast<size_t>(n * vocab), -spread, spread);
    std::vector<SamplingParams> params;
    std::vector<ops::SampleKey> keys;
    for (int64_t i = 0; i < n; ++i) {
      params.push_back(settings[static_cast<size_t>(i) % settings.size()]);
      keys.push_back({42, ops::sample_request_hash(str("req-", i % 3)), i});
    }
    std::vector<int32_t> got(static_cast<size_t>(n), -1), want(static_cast<size_t>(n), -2);
    DeviceTensor d = dev(logits, Shape{n, vocab});
    ops::sample(gpu, d.view(), params, keys, got);
    ops::sample(cpu, view_of(logits, Shape{n, vocab}), params, keys, want);
    const auto same = std::inner_product(got.begin(), got.end(), want.begin(), 0, std::plus<>(), std::equal_to<>());
    std::printf("[ cuda op ] sample vocab=%lld | %s | tokens equal %d/%lld | limit all\n", static_cast<long long>(vocab),
                dtype_name(dt()), same, static_cast<long long>(n));
    EXPECT_EQ(got, want) << "vocab " << vocab << " in " << dtype_name(dt());
  }
  std::vector<float> bad(10, 0.0f);
  bad[3] = NAN;
  DeviceTensor d = dev(bad, Shape{1, 10});
  std::vector<int32_t> tok(1);
  const std::vector<SamplingParams> greedy(1);
  const std::vector<ops::SampleKey> key(1);
  try {
    ops::sample(gpu, d.view(), greedy, key, tok);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "sample: the logits contain NaN");
  }
}

}  // namespace
}  // namespace ps::test
