// The plan: the JSON sharding config the runtime consumes (configs/plans/README.md documents it).
// Version 1. A person can write one by hand; the smallest valid plan is
//   {"model": "models/gpt2", "stages": [{"layers": "0-12", "device": "cuda:0"},
//                                       {"layers": "13-25", "device": "cuda:1"}]}
// and everything else takes a default. `model` is a model folder (config.json; the runtime also
// reads its weights), relative to the plan file's folder unless absolute.
//
// Ranks: a plan with P stages and R replicas runs R * P workers; rank = replica * P + stage
// (topology_from_plan, partitioner/topology.h, is that numbering and who talks to whom).
// Rank r runs stage r % P of replica r / P, on the node that stage names. On that node a CPU
// stage of every replica runs on the CPU (stages share its cores); a GPU stage "cuda:N" of
// replica k runs on cuda:(N + k * S), where S = 1 + the largest GPU index that the plan's stages
// use on that node -- so replicas take disjoint GPUs (replica 0: cuda:0-3, replica 1: cuda:4-7).
//
// Reserved for later versions; the schema knows them and refuses them when set, so a newer
// plan never half-works: a stage's "devices" list (tensor parallelism within a stage), quantized
// dtypes ("int8", "int4", "fp8", ...), and "model_fingerprint" (a hash of the checkpoint, which
// will be checked at load).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "partitioner/workload.h"
#include "runtime/core/device.h"
#include "runtime/core/dtype.h"
#include "runtime/core/json_util.h"

namespace ps {

constexpr int kPlanVersion = 1;

struct StagePlan {
  int first = 0, last = 0;      // inclusive layer range, written "first-last"
  Device device;
  int node = 0;
  int threads = 0;              // CPU stages: compute threads; 0 = the CPU's cores / stages sharing it
  std::optional<DType> dtype;   // default: the plan's

  int num_layers() const { return last - first + 1; }
};

// What the planner predicted (informational: the runtime ignores it; `pipeshard bench` compares
// measurements against it).
struct StagePrediction {
  int64_t params = 0;
  int64_t memory_bytes = 0;    // weights + KV cache + transient, this stage
  int64_t capacity_bytes = 0;  // what the device offers it (after its reserve; shared devices split)
  double compute_s = 0.0;      // one micro-batch through the stage over the workload
  double send_s = 0.0;         // its boundary activation (last stage, generate: the tokens back)
  double busy_s = 0.0;         // simulated busy time over the whole run
};

struct PlanPredictions {
  std::string method;   // uniform, params, optimal, or "check" for a hand plan
  std::string cluster;  // the cluster spec's name
  bool profiled = false;
  double bottleneck_s = 0.0;   // the largest compute + send of a stage
  double makespan_s = 0.0;     // one round (forward) or a whole generation, simulated
  double sequences_per_s = 0.0;
  double tokens_per_s = 0.0;
  double bubble = 0.0;
  std::vector<StagePrediction> stages;
};

struct Plan {
  int version = kPlanVersion;
  std::string model;
  std::optional<DType> dtype;   // default: the checkpoint's torch_dtype
  int replicas = 1;
  Workload workload;            // JSON: batch and micro_batches at the top, the rest in "workload"
  std::vector<StagePlan> stages;
  std::optional<PlanPredictions> predictions;

  int num_stages() const { return static_cast<int>(stages.size()); }
  // The stage's dtype after defaults (plan_validate fills the plan's).
  DType stage_dtype(size_t s) const;
};

// Reads a plan's schema: types, unknown keys (with a did-you-mean), ranges' syntax, reserved
// keys. Errors are InvalidInput "<file>: <json path>: <rule>". Checks against the model and the
// cluster are plan_validate's (plan_validate.h).
Plan plan_from_json(const Json& j, const std::string& file);
// The plan as JSON text: top-level keys one per line, one stage per line.
std::string plan_dump(const Plan& plan);
void plan_write(const Plan& plan, const std::string& path);  // atomically

// "0-12" / "7" -> {first, last}; `where` names the field in errors.
std::pair<int, int> plan_parse_layers(const std::string& text, const std::string& where);
std::string plan_layers_str(const StagePlan& s);  // "0-12", or "7" for one layer

// Where rank `rank` runs (see the comment at the top): its coordinates from the plan's topology,
// and its device.
struct RankPlacement {
  int rank = 0, replica = 0, stage = 0, node = 0;
  Device device;
};
int plan_world_size(const Plan& plan);
RankPlacement plan_rank_placement(const Plan& plan, int rank);

// The model folder a plan names, resolved against the plan file's folder.
std::string plan_model_dir(const Plan& plan, const std::string& plan_path);

}  // namespace ps
