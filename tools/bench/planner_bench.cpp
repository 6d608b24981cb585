// Planning time (Google Benchmark): the optimal split of 1,000 layers over 256 devices -- the
// target is under 1 s on the 2-core development machine -- alone and as the whole `plan`
// (cost model, placement, partition, validation, simulation).
//   build-*/bin/planner_bench --benchmark_filter=. --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>
#include <random>

#include "partitioner/partition.h"
#include "partitioner/planner.h"

namespace {

using ps::Json;

// A llama with 998 blocks: 1,000 layers with the embedding and the head.
const ps::ModelSpec& model_1000_layers() {
  static const ps::ModelSpec spec = ps::model_spec_from_json(
      Json{{"model_type", "llama"},         {"hidden_size", 4096},          {"intermediate_size", 14336},
           {"num_hidden_layers", 998},      {"num_attention_heads", 32},    {"num_key_value_heads", 8},
           {"vocab_size", 128256},          {"max_position_embeddings", 8192}, {"rms_norm_eps", 1e-5},
           {"rope_theta", 500000.0},        {"tie_word_embeddings", false}, {"torch_dtype", "bfloat16"},
           {"architectures", {"LlamaForCausalLM"}}},
      "bench/config.json");
  return spec;
}

// 32 nodes of 8 GPUs, alternately H100 and A100 nodes (heterogeneous), over InfiniBand.
const ps::ClusterSpec& cluster_256_devices() {
  static const ps::ClusterSpec c = [] {
    Json nodes = Json::array();
    for (int n = 0; n < 32; ++n) {
      const bool h100 = n % 2 == 0;
      nodes.push_back({{"devices",
                        {{{"device", "cuda:0"}, {"count", 8}, {"model", h100 ? "H100" : "A100"}, {"memory_gib", 80},
                          {"peak_tflops", {{"f32", h100 ? 67 : 19.5}, {"bf16", h100 ? 989 : 312}}},
                          {"memory_bandwidth_gb_s", h100 ? 3350 : 2039}}}},
                       {"link", {{"bandwidth_gb_s", h100 ? 450 : 300}, {"latency_us", 10}}}});
    }
    return ps::cluster_from_json(Json{{"name", "bench"}, {"nodes", nodes}, {"inter_node_link", {{"bandwidth_gb_s", 50}}}},
                                 "bench.json");
  }();
  return c;
}

// The partition problem alone: random per-stage speeds and per-boundary sends, binding memory.
ps::PartitionProblem random_problem(int layers, int stages) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> work(0.5, 2.0), speed(1.0, 3.0), act(0.0, 0.2);
  std::uniform_int_distribution<int64_t> mem(100, 1000);
  ps::PartitionProblem p;
  p.layers = layers;
  std::vector<double> w(static_cast<size_t>(layers)), a(static_cast<size_t>(layers) + 1);
  for (auto& x : w) x = work(rng);
  for (auto& x : a) x = act(rng);
  p.held.assign(static_cast<size_t>(layers) + 1, 0);
  p.peak.assign(static_cast<size_t>(layers), 0);
  for (int i = 0; i < layers; ++i) {
    p.held[static_cast<size_t>(i) + 1] = p.held[static_cast<size_t>(i)] + mem(rng);
    p.peak[static_cast<size_t>(i)] = mem(rng) / 4;
  }
  for (int s = 0; s < stages; ++s) {
    const double f = speed(rng);
    std::vector<double> t(static_cast<size_t>(layers) + 1, 0.0), snd(static_cast<size_t>(layers) + 1, 0.0);
    for (int i = 0; i < layers; ++i) {
      t[static_cast<size_t>(i) + 1] = t[static_cast<size_t>(i)] + w[static_cast<size_t>(i)] * f;
      snd[static_cast<size_t>(i) + 1] = a[static_cast<size_t>(i) + 1];
    }
    p.time.push_back(std::move(t));
    p.send.push_back(std::move(snd));
    p.capacity.push_back(2 * p.held.back() / stages + 1000);
  }
  return p;
}

void BM_PartitionOptimal(benchmark::State& state) {
  const ps::PartitionProblem p = random_problem(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  for (auto _ : state) benchmark::DoNotOptimize(ps::partition_optimal(p));
}
BENCHMARK(BM_PartitionOptimal)->Args({1000, 256})->Args({1000, 64})->Args({100, 8})->Unit(benchmark::kMillisecond);

void BM_PlanMake(benchmark::State& state) {
  ps::PlanRequest req;
  req.model = "bench";
  req.stages = static_cast<int>(state.range(0));
  req.workload.mode = state.range(1) ? ps::Mode::Generate : ps::Mode::Forward;
  req.workload.prompt_len = 512;
  req.workload.max_new_tokens = state.range(1) ? 32 : 0;
  req.micro_batches = static_cast<int>(state.range(0));
  req.batch = state.range(0);
  for (auto _ : state) benchmark::DoNotOptimize(ps::plan_make(model_1000_layers(), cluster_256_devices(), req));
}
// {stages, generate?}: the whole plan of 1,000 layers on 256 devices, forward and generate.
BENCHMARK(BM_PlanMake)->Args({256, 0})->Args({256, 1})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
