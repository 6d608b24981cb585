// Model benchmarks for issue 2 (CPU backend): sgemm at the model's largest GEMM shape, prefill
// of one 128-token prompt, decode of 64 tokens after a 128-token prompt at batch 1 and 8, and
// the machine's copy bandwidth, all in one run so the ratios compare like with like.
//
//   PIPESHARD_BENCH_MODEL=/path/to/small-llama ./build/bin/model_bench
// (tools/bench_model.sh makes the `small` preset and runs this.)
//
// Counters: GFLOP/s for sgemm and prefill (prefill counts the model's matmul and attention
// FLOPs); tokens/s; for decode, bound_tok/s = copy bandwidth / weight bytes per token (every
// weight is streamed once per step) and vs_bound = bound time / measured time per step.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "kernels/cpu/blas_threads.h"
#include "kernels/ops.h"
#include "runtime/drivers/local_model.h"

namespace ps {
namespace {

constexpr int kPrompt = 128;
constexpr int kDecode = 64;

std::string model_dir() {
  const char* d = std::getenv("PIPESHARD_BENCH_MODEL");
  if (!d || !*d) {
    std::fprintf(stderr, "set PIPESHARD_BENCH_MODEL to a model folder (tools/bench_model.sh makes one)\n");
    std::exit(2);
  }
  return d;
}

// Bytes copied per second by memcpy of a buffer far larger than the caches (median of 5).
double copy_bandwidth() {
  static double bw = [] {
    const size_t n = size_t{512} << 20;
    Buffer a(n), b(n);
    std::memset(a.data(), 1, n);
    std::memset(b.data(), 2, n);
    std::vector<double> rates;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      std::memcpy(b.data(), a.data(), n);
      benchmark::DoNotOptimize(b.data());
      rates.push_back(static_cast<double>(n) /
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(rates.begin(), rates.end());
    return rates[2];
  }();
  return bw;
}

// Matmul + attention FLOPs of a prefill of `tokens` tokens of one sequence with logits for the last.
double prefill_flops(const ModelSpec& s, int tokens) {
  const double hd = static_cast<double>(s.head_dim);
  const double per_block = 2.0 * (s.hidden * (s.n_heads + 2 * s.n_kv_heads) * hd + s.n_heads * hd * s.hidden +
                                  3.0 * s.hidden * s.intermediate);
  const double attn = 2.0 * 2.0 * s.n_heads * hd * (tokens * (tokens + 1) / 2.0);  // QK^T and AV, causal
  return s.n_layers * (per_block * tokens + attn) + 2.0 * s.hidden * s.vocab_size;
}

std::unique_ptr<LocalModel> load(int threads, int slots) {
  StageOptions so;
  so.slots = slots;
  so.max_ctx = kPrompt + kDecode;
  return local_model_load(model_dir(), threads, so);
}

TokenBatch prompt_batch(int sequences, int vocab) {
  TokenBatch b;
  for (int s = 0; s < sequences; ++s) {
    for (int p = 0; p < kPrompt; ++p) {
      b.tokens.push_back((p * 131 + s * 17 + 1) % vocab);
      b.slots.push_back(s);
      b.positions.push_back(p);
    }
    b.logit_rows.push_back(static_cast<int32_t>(b.tokens.size() - 1));
  }
  return b;
}

void BM_Sgemm(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  auto pool = cpu_threads_setup(threads);
  const ModelSpec spec = model_spec_load(model_dir());
  // The largest weight matrix of the model is the LM head [vocab, hidden].
  OwnedTensor x(Shape{kPrompt, spec.hidden}), w(Shape{spec.vocab_size, spec.hidden}), y(Shape{kPrompt, spec.vocab_size});
  for (int64_t i = 0; i < x.view.numel(); ++i) x.f32()[i] = static_cast<float>(i % 7) * 0.1f;
  for (int64_t i = 0; i < w.view.numel(); ++i) w.f32()[i] = static_cast<float>(i % 5) * 0.01f;
  Workspace ws;
  const OpContext ctx{&backend_get(Device::cpu()), nullptr, pool.get(), &ws};
  for (auto _ : state) ops::linear(ctx, x.view, w.view, ops::WeightLayout::OutIn, TensorView{}, y.view);
  const double flops = 2.0 * kPrompt * static_cast<double>(spec.hidden) * static_cast<double>(spec.vocab_size);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel("M=128 K=" + std::to_string(spec.hidden) + " N=" + std::to_string(spec.vocab_size));
}

void BM_Prefill(benchmark::State& state) {
  auto m = load(static_cast<int>(state.range(0)), 1);
  const TokenBatch b = prompt_batch(1, static_cast<int>(m->spec.vocab_size));
  OwnedTensor out;
  for (auto _ : state) m->stage->forward(m->ctx(), b, TensorView{}, out);
  state.counters["tokens/s"] = benchmark::Counter(kPrompt, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(prefill_flops(m->spec, kPrompt) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Decode(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int batch = static_cast<int>(state.range(1));
  auto m = load(threads, batch);
  const TokenBatch prompt = prompt_batch(batch, static_cast<int>(m->spec.vocab_size));
  OwnedTensor out;
  double seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    m->stage->forward(m->ctx(), prompt, TensorView{}, out);
    state.ResumeTiming();
    const auto t0 = std::chrono::steady_clock::now();
    for (int step = 0; step < kDecode; ++step) {
      TokenBatch b;
      for (int s = 0; s < batch; ++s) {
        b.tokens.push_back((step * 7 + s) % static_cast<int>(m->spec.vocab_size));
        b.slots.push_back(s);
        b.positions.push_back(kPrompt + step);
        b.logit_rows.push_back(s);
      }
      m->stage->forward(m->ctx(), b, TensorView{}, out);
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double steps = static_cast<double>(state.iterations()) * kDecode;
  // Each step streams every weight once; the tied embedding table is read once, as the head.
  const double bytes_per_step = static_cast<double>(m->stage->weight_bytes());
  const double bound_step = bytes_per_step / copy_bandwidth();
  state.counters["tokens/s"] = steps * batch / seconds;
  state.counters["bound_tok/s"] = batch / bound_step;
  state.counters["vs_bound"] = bound_step / (seconds / steps);
  state.counters["copy_GB/s"] = copy_bandwidth() * 1e-9;
}

BENCHMARK(BM_Sgemm)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_Prefill)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_Decode)
    ->ArgNames({"threads", "batch"})
    ->Args({1, 1})->Args({2, 1})->Args({1, 8})->Args({2, 8})
    ->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

}  // namespace
}  // namespace ps

BENCHMARK_MAIN();
