// The plans one benchmark configuration runs: the pipeline under test -- made by the planner
// from a model and a cluster, or a given plan with the configuration's workload -- and the
// one-stage reference with the same replicas, micro-batch split and threads as its stage 0,
// whose results the pipeline's must equal bit for bit (docs/DESIGN.md, "Invariants the tests hold").
#pragma once

#include <optional>
#include <string>

#include "partitioner/cluster.h"
#include "runtime/spec/model_spec.h"
#include "partitioner/plan.h"
#include "partitioner/planner.h"
#include "partitioner/profile.h"
#include "runtime/bench/bench_config.h"
#include "runtime/bench/bench_report.h"

namespace ps {

struct BenchSource {
  // Either a plan file (stages fixed by it) ...
  std::optional<std::string> plan_path;
  // ... or a model folder to plan for on `cluster`.
  std::string model_dir;
  Method method = Method::Optimal;
  const ModelSpec* spec = nullptr;
  const ClusterSpec* cluster = nullptr;  // needed to plan; with a plan file, for predictions only
  const Profile* profile = nullptr;
};

struct BenchPlans {
  Plan plan, reference;  // models as absolute paths: the plans are written elsewhere
  BenchPrediction predicted;
  std::vector<std::string> notes;
};

// InvalidInput when the configuration does not suit the source (a stages sweep over a plan
// file, more micro-batches than sequences, ...).
BenchPlans bench_plans_make(const BenchSource& src, const BenchConfig& c);

// The threads stage `s` of `plan` computes with: the plan's, else the worker's default of the
// cores shared by the ranks of the machine (runtime/pipeline/worker.cpp).
int bench_stage_threads(const Plan& plan, size_t s);

}  // namespace ps
