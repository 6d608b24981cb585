// The planner: places stages on a cluster's devices and splits the model's layers among them
// with one of the partition algorithms, then predicts what the plan achieves.
//
// Placement: stages take the cluster's devices in order (node by node, each node's devices as
// listed), one stage per GPU. With R replicas each replica takes its own GPUs, so replica 0 may
// use the first floor(G / R) GPUs of each node (plan.h: replica k runs on cuda:N + k * S). A CPU
// takes every stage beyond the GPUs (stages on one CPU share its cores and memory). Without
// --stages the planner uses the fewest stages that fit in memory.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "partitioner/cluster.h"
#include "runtime/spec/model_spec.h"
#include "partitioner/plan.h"
#include "partitioner/plan_estimate.h"
#include "partitioner/profile.h"

namespace ps {

enum class Method : uint8_t {
  Uniform,  // equal layer counts (Megatron, vLLM)
  Params,   // balanced parameter counts (DeepSpeed's partition_balanced)
  Optimal,  // the smallest bottleneck of compute + send under every device's memory
};
const char* method_name(Method m);
std::optional<Method> method_parse(std::string_view s);

struct PlanRequest {
  std::string model;              // as the plan names it (a path relative to the plan's folder)
  Method method = Method::Optimal;
  std::optional<int> stages;      // nullopt: the fewest stages that fit
  int replicas = 1;
  Workload workload;              // mode, prompt_len, max_new_tokens; batch and micro-batches:
  std::optional<int> micro_batches;  // nullopt: as many as stages (min(stages, batch)), to fill the pipeline
  std::optional<int64_t> batch;      // nullopt: the micro-batch count (one sequence each)
  std::optional<DType> dtype;     // nullopt: the checkpoint's
  const Profile* profile = nullptr;
};

struct PlanResult {
  Plan plan;  // with predictions
  PlanEstimate estimate;
  std::vector<std::string> notes;  // how it was placed, measured times used, CPU sharing
};

// Throws InvalidInput saying why and what would fix it when no plan fits ("layer 37 alone needs
// 21.3 GiB; node1/cuda:3 has 16.0 GiB", "needs at least 5 stages of node0/cuda:0 ...").
PlanResult plan_make(const ModelSpec& spec, const ClusterSpec& cluster, const PlanRequest& req);

// The devices the stages of replica 0 take, in order, for `stages` stages (see the top).
std::vector<DeviceSlot> planner_slots(const ClusterSpec& cluster, int stages, int replicas);
// The most stages the placement allows without doubling up GPUs (a CPU counts once).
int planner_max_stages(const ClusterSpec& cluster, int replicas);

}  // namespace ps
