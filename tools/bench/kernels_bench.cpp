// CPU kernels against this machine's peaks (Google Benchmark), at the `small` llama preset's
// shapes (hidden 768, 12 heads of 64, 4 KV heads, MLP 2048, vocabulary 32000, 128-token prompts).
// Each benchmark reports GFLOP/s and GB/s (bytes the kernel must read and write at least) and
// the percentage of the peaks, which this same run measures first, at the same thread count:
//   peak FLOP/s    the best of 15 square 1024^3 sgemm (OpenBLAS) -- what a GEMM reaches here,
//                  rather than a datasheet figure no kernel sees;
//   peak bytes/s   the best of 7 copies of 256 MiB split over the threads, counting the bytes
//                  read and written (a copy moves 2 bytes per byte copied).
// A GEMM-shaped kernel should be near peak FLOP/s; an elementwise one, or a decode-step GEMV,
// near peak bytes/s.
//   build-*/bin/kernels_bench [--benchmark_filter=Linear]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "kernels/owned_tensor.h"
#include "kernels/common/backend.h"
#include "kernels/ops.h"
#include "runtime/core/error.h"
#include "runtime/drivers/local_model.h"

namespace ps {
namespace {

constexpr int64_t kHidden = 768, kHeads = 12, kKvHeads = 4, kHeadDim = 64, kInter = 2048, kVocab = 32000, kPrompt = 128;

struct Ctx {
  std::unique_ptr<ThreadPool> pool;
  Workspace ws;
  OpContext ctx;
  explicit Ctx(int threads)
      : pool(cpu_threads_setup(threads)), ctx{&backend_get(Device::cpu()), nullptr, pool.get(), &ws} {}
};

OwnedTensor filled(Shape s, float scale = 0.01f) {
  OwnedTensor t(s);
  for (int64_t i = 0; i < t.view.numel(); ++i) t.f32()[i] = static_cast<float>((i * 7919) % 201 - 100) * scale;
  return t;
}

template <class F>
double best_seconds(int runs, F&& f) {
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

struct Peaks {
  double flops = 0, bytes = 0;
};

const Peaks& peaks(int threads) {
  static std::map<int, Peaks> cache;
  if (auto it = cache.find(threads); it != cache.end()) return it->second;
  Peaks p;
  {
    Ctx c(threads);
    const int64_t n = 1024;
    OwnedTensor a = filled(Shape{n, n}), b = filled(Shape{n, n}), y(Shape{n, n});
    ops::linear(c.ctx, a.view, b.view, ops::WeightLayout::OutIn, TensorView{}, y.view);  // warm-up
    p.flops = 2.0 * n * n * n / best_seconds(15, [&] {
                ops::linear(c.ctx, a.view, b.view, ops::WeightLayout::OutIn, TensorView{}, y.view);
              });
  }
  {
    const size_t n = size_t{256} << 20;
    Buffer src(n), dst(n);
    std::memset(src.data(), 1, n);
    std::memset(dst.data(), 2, n);
    auto copy = [&] {
      std::vector<std::thread> ts;
      const size_t part = n / static_cast<size_t>(threads);
      for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
          const size_t off = part * static_cast<size_t>(t);
          std::memcpy(static_cast<char*>(dst.data()) + off, static_cast<const char*>(src.data()) + off, part);
        });
      for (auto& t : ts) t.join();
      benchmark::DoNotOptimize(dst.data());
    };
    p.bytes = 2.0 * static_cast<double>(n) / best_seconds(7, copy);
  }
  return cache[threads] = p;
}

// Rates over the timed loop, and their share of the peaks. Plain counters computed here (not
// Google Benchmark's rate flags, which print as "GB/s=.../s").
template <class F>
void run_and_report(benchmark::State& state, int threads, double flops, double bytes, F&& body) {
  const Peaks& p = peaks(threads);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) body();
  const double per_iter = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                          static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
  state.counters["GFLOP/s"] = flops / per_iter * 1e-9;
  state.counters["GB/s"] = bytes / per_iter * 1e-9;
  state.counters["%peak_flops"] = flops / per_iter / p.flops * 100;
  state.counters["%peak_bw"] = bytes / per_iter / p.bytes * 100;
  state.SetLabel(
      str("peaks ", static_cast<int>(p.flops * 1e-9), " GFLOP/s, ", static_cast<int>(p.bytes * 1e-9), " GB/s"));
}

// {threads, rows, in, out}: the projections of a block (prefill: 128 rows; decode: 1) and the head.
void BM_Linear(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t rows = state.range(1), in = state.range(2), out = state.range(3);
  Ctx c(threads);
  OwnedTensor x = filled(Shape{rows, in}), w = filled(Shape{out, in}), y(Shape{rows, out});
  run_and_report(state, threads, 2.0 * rows * in * out, 4.0 * (rows * in + in * out + rows * out),
                 [&] { ops::linear(c.ctx, x.view, w.view, ops::WeightLayout::OutIn, TensorView{}, y.view); });
}

void BM_RmsNorm(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Ctx c(threads);
  OwnedTensor x = filled(Shape{kPrompt, kHidden}), g = filled(Shape{kHidden}), y(Shape{kPrompt, kHidden});
  run_and_report(state, threads, 4.0 * kPrompt * kHidden, 4.0 * (2 * kPrompt * kHidden + kHidden),
                 [&] { ops::rms_norm(c.ctx, x.view, g.view, 1e-5f, y.view); });
}

void BM_SiluMul(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Ctx c(threads);
  OwnedTensor g = filled(Shape{kPrompt, kInter}), u = filled(Shape{kPrompt, kInter}), y(Shape{kPrompt, kInter});
  run_and_report(state, threads, 5.0 * kPrompt * kInter, 4.0 * 3 * kPrompt * kInter,
                 [&] { ops::silu_mul(c.ctx, g.view, u.view, y.view); });
}

void BM_Rope(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Ctx c(threads);
  OwnedTensor x = filled(Shape{kPrompt, kHeads, kHeadDim});
  std::vector<int32_t> pos(kPrompt);
  for (int32_t i = 0; i < kPrompt; ++i) pos[static_cast<size_t>(i)] = i;
  const std::vector<float> inv = ops::rope_inv_freq(10000.0, kHeadDim, RopeScaling{});
  run_and_report(state, threads, 3.0 * kPrompt * kHeads * kHeadDim, 4.0 * 2 * kPrompt * kHeads * kHeadDim,
                 [&] { ops::rope(c.ctx, x.view, pos, inv); });
}

// {threads, rows, context}: a 128-token prefill (rows = context = 128: causal), or one decode
// row per sequence over `context` cached positions.
void BM_Attention(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t rows = state.range(1), ctx_len = state.range(2);
  Ctx c(threads);
  OwnedTensor q = filled(Shape{rows, kHeads, kHeadDim}), out(Shape{rows, kHeads, kHeadDim});
  OwnedTensor k = filled(Shape{1, ctx_len, kKvHeads, kHeadDim}), v = filled(Shape{1, ctx_len, kKvHeads, kHeadDim});
  std::vector<int32_t> slots(static_cast<size_t>(rows), 0), pos(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(ctx_len - rows + i);
  double attended = 0;  // (query, key) pairs
  for (int32_t p : pos) attended += p + 1;
  run_and_report(state, threads, 4.0 * kHeads * kHeadDim * attended,
                 4.0 * (2.0 * rows * kHeads * kHeadDim + 2.0 * ctx_len * kKvHeads * kHeadDim), [&] {
                   ops::attention(c.ctx, q.view, {k.view, v.view}, slots, pos, 0.125f, out.view);
                 });
}

void BM_Softmax(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Ctx c(threads);
  OwnedTensor x = filled(Shape{8, kVocab});
  run_and_report(state, threads, 4.0 * 8 * kVocab, 4.0 * 2 * 8 * kVocab, [&] { ops::softmax(c.ctx, x.view); });
}

void BM_Embedding(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Ctx c(threads);
  OwnedTensor table = filled(Shape{kVocab, kHidden}), out(Shape{kPrompt, kHidden});
  std::vector<int32_t> ids(kPrompt);
  for (int32_t i = 0; i < kPrompt; ++i) ids[static_cast<size_t>(i)] = (i * 977) % kVocab;
  run_and_report(state, threads, 0, 4.0 * 2 * kPrompt * kHidden,
                 [&] { ops::embedding(c.ctx, table.view, ids, out.view, false); });
}

BENCHMARK(BM_Linear)
    ->ArgNames({"threads", "rows", "in", "out"})
    ->Args({1, kPrompt, kHidden, kInter})
    ->Args({2, kPrompt, kHidden, kInter})
    ->Args({1, kPrompt, kInter, kHidden})
    ->Args({2, kPrompt, kInter, kHidden})
    ->Args({1, 1, kHidden, kInter})
    ->Args({2, 1, kHidden, kInter})
    ->Args({1, 1, kHidden, kVocab})
    ->Args({2, 1, kHidden, kVocab})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Attention)
    ->ArgNames({"threads", "rows", "ctx"})
    ->Args({1, kPrompt, kPrompt})
    ->Args({2, kPrompt, kPrompt})
    ->Args({1, 1, 1024})
    ->Args({2, 1, 1024})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RmsNorm)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SiluMul)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Rope)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Softmax)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Embedding)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ps

BENCHMARK_MAIN();
