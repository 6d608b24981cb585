// The configurations a `pipeshard bench` run measures, and its synthetic input.
//
// A sweep is "key=v1,v2,..." with key micro_batches, batch or stages; several sweeps multiply
// (every combination, the first sweep varying slowest). The requests are made up from a seed --
// token ids from a hash of (seed, request, position) -- so that a benchmark is repeatable and
// needs no data set: greedy, no stop ids, so every sequence produces exactly max_new_tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partitioner/workload.h"

namespace ps {

struct BenchConfig {
  Mode mode = Mode::Forward;
  int stages = 1;
  int micro_batches = 1;
  int64_t batch = 0;     // 0: one sequence per micro-batch (= micro_batches), as `pipeshard plan`
  int64_t requests = 0;  // 0: one round (= batch)
  int64_t prompt_len = 128;
  int64_t max_new_tokens = 0;  // generate

  int64_t batch_or_default() const { return batch > 0 ? batch : micro_batches; }
  int64_t requests_or_default() const { return requests > 0 ? requests : batch_or_default(); }
};

struct Sweep {
  std::string key;  // "micro_batches", "batch" or "stages"
  std::vector<int64_t> values;
};

// "micro_batches=1,2,4,8" -> {key, values}; InvalidInput "--sweep '...': ..." otherwise (an
// unknown key gets a did-you-mean; values are integers >= 1).
Sweep sweep_parse(const std::string& text);
// Every combination of the sweeps over `base`, in order.
std::vector<BenchConfig> sweep_expand(const BenchConfig& base, const std::vector<Sweep>& sweeps);
// InvalidInput naming the configuration when it cannot run (fewer sequences than micro-batches,
// more stages than the model's `layers`).
void bench_config_check(const BenchConfig& c, int layers);
// "stages=2 micro_batches=4 batch=8"
std::string bench_config_str(const BenchConfig& c);

// n request lines (JSONL): ids "bench-<i>", prompt_len token ids in [1, vocab), and
// max_new_tokens (generate; omitted when 0).
std::string requests_synthetic(int64_t n, int64_t prompt_len, int64_t max_new_tokens, int64_t vocab, uint64_t seed);

}  // namespace ps
