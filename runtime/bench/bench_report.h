// The results of a `pipeshard bench` run: one row per configuration with the measured medians,
// the planner's predictions for the same plan, and the check against the one-stage run; printed
// as tables (like llama-bench / nccl-tests) and written as results.json and results.csv.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/bench/bench_config.h"
#include "runtime/bench/measure.h"
#include "runtime/core/json_util.h"

namespace ps {

// The simulator's figures for the plan (plan_estimate.h), in the measured figures' terms.
struct BenchPrediction {
  bool valid = false;  // false without a cluster spec
  double makespan_s = 0, sequences_per_s = 0, tokens_per_s = 0, bubble = 0;
  std::vector<double> time_per_mb_s;  // per stage: simulated busy / M (compute/mb of `plan`)
  std::vector<double> send_s;         // per stage: one micro-batch's outgoing messages
};

struct BenchRow {
  BenchConfig config;
  int replicas = 1;
  std::vector<std::string> layers;  // per stage, "0-6"
  std::vector<int> threads;         // per stage
  RunMeasure measured;              // median over the repeats
  std::vector<double> runs_tokens_per_s;
  BenchPrediction predicted;
  double reference_tokens_per_s = 0;  // the one-stage run with the same split
  int64_t wrong = 0;                  // results differing from the reference, over every run
  std::string dir;                    // plan, outputs, metrics, logs, trace: a folder of the results
};

Json bench_results_json(const std::vector<BenchRow>& rows, const Json& meta);
// One line per configuration and stage (stage-level columns; the configuration's repeated).
std::string bench_results_csv(const std::vector<BenchRow>& rows);
// Two tables: one line per configuration, then one line per configuration and stage.
std::string bench_table(const std::vector<BenchRow>& rows);

}  // namespace ps
