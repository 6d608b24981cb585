// What a plan will cost on a cluster: per-stage memory and time from the cost model (or a
// profile), and the simulated timeline of its schedule. The planner balances the same numbers
// (PlanContext) that the table and the predictions show.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "partitioner/cluster.h"
#include "partitioner/cost_model.h"
#include "runtime/spec/model_spec.h"
#include "partitioner/plan.h"
#include "partitioner/profile.h"
#include "partitioner/simulator.h"

namespace ps {

// How one stage sits on its device. Stages on one CPU share its cores: a stage gets
// min(threads, cores / sharing) cores' worth of the CPU's FLOP/s and memory bandwidth, where
// sharing counts the stages of every replica on that CPU and threads defaults to
// max(1, cores / sharing). Two stages on one GPU split it evenly. Memory is split evenly too.
struct StageContext {
  const DeviceSpec* device = nullptr;
  std::string label;  // "node0/cuda:1"
  DType dtype = DType::F32;
  int threads = 0;    // CPU
  int sharing = 1;    // stages (all replicas) on this device
  double share = 1.0; // of the device's throughput
  const CostModel* model = nullptr;
  LayerClock clock;
  LinkSpec next_link;  // to the next stage; the last stage: back to the first (tokens)
  bool measured = false;
  int64_t capacity_bytes = 0;  // usable memory / sharing
};

// The per-stage contexts of a plan whose stages have devices (layer ranges are not read).
// Throws InvalidInput "stages[i].device: ..." when a stage's device is not in the cluster.
class PlanContext {
 public:
  PlanContext(const Plan& plan, const ModelSpec& spec, const ClusterSpec& cluster, const Profile* profile);
  PlanContext(const PlanContext&) = delete;  // stages point into models_ and times_
  PlanContext& operator=(const PlanContext&) = delete;

  std::vector<StageContext> stages;
  std::vector<std::string> notes;  // e.g. which stages use measured times

 private:
  std::map<std::pair<DType, DType>, CostModel> models_;
  std::unique_ptr<ProfileTimes> times_;
};

struct StageEstimate {
  int64_t params = 0, weight_bytes = 0, kv_bytes = 0, peak_bytes = 0;
  int64_t memory_bytes = 0;    // weights + KV + peak transient
  int64_t capacity_bytes = 0;  // StageContext::capacity_bytes
  double compute_s = 0.0;      // one micro-batch over the workload
  double send_s = 0.0;         // its outgoing messages over the workload, one micro-batch
};
StageEstimate stage_estimate(const StageContext& c, const StagePlan& s, int stages, bool last);

struct PlanEstimate {
  std::vector<StageEstimate> stages;
  int bottleneck_stage = 0;
  double bottleneck_s = 0.0;  // max over stages of compute_s + send_s
  SimResult sim;
  std::vector<RoundKind> rounds;             // the rounds simulated, in order
  std::vector<std::vector<int>> round_start; // [stage][round]: index of the round's first instruction
  double sequences_per_s = 0.0, tokens_per_s = 0.0;  // all replicas together
};

// The timeline keeps the events of the first rounds only (sim.compute, sim.transfers).
constexpr int kTimelineRounds = 3;

// Estimates and simulates `plan` (structure already validated). With `simulate` false only the
// per-stage figures are filled.
PlanEstimate plan_estimate(const Plan& plan, const PlanContext& ctx, bool simulate = true);
PlanPredictions plan_predictions(const PlanEstimate& e, const std::string& method, const std::string& cluster,
                                 bool profiled);

}  // namespace ps
