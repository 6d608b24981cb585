// Checks a plan against its model and, when given, a cluster -- every rule of the plan format
// (configs/plans/README.md) with the JSON path and the rule in the message, as InvalidInput
// "<file>: stages[2].layers: ...": the stages cover layers 0..n-1 in order without gaps or
// overlaps and nothing past the last layer; the workload suits the model; on a cluster, every
// stage's node and device exist (for every replica) and every device holds its stages' memory.
// Legal but questionable choices come back as warnings (two stages on one GPU: NCCL cannot join
// a GPU to itself, so that boundary goes through host memory; oversubscribed CPU threads).
#pragma once

#include <string>
#include <vector>

#include "partitioner/cluster.h"
#include "runtime/spec/model_spec.h"
#include "partitioner/plan.h"
#include "partitioner/profile.h"

namespace ps {

// Fills the plan's defaults (dtype: the checkpoint's) and checks it; returns the warnings.
std::vector<std::string> plan_validate(Plan& plan, const ModelSpec& spec, const ClusterSpec* cluster,
                                       const std::string& file, const Profile* profile = nullptr);

struct LoadedPlan {
  Plan plan;
  ModelSpec spec;
  std::string model_dir;
  std::vector<std::string> warnings;
};
// Reads, resolves the model (relative to the plan's folder) and validates a plan file.
LoadedPlan plan_load(const std::string& path, const ClusterSpec* cluster = nullptr, const Profile* profile = nullptr);

// "34 layers (0: embedding, 1-32: blocks 0-31, 33: head)" for messages.
std::string model_layers_summary(const ModelSpec& spec);

}  // namespace ps
