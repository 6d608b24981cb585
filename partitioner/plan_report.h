// Text output of `pipeshard plan`: the stage table, the predicted throughput and bubble, and the
// simulated timeline as a character Gantt chart.
#pragma once

#include <string>

#include "runtime/spec/model_spec.h"
#include "partitioner/plan.h"
#include "partitioner/plan_estimate.h"

namespace ps {

// One row per stage: device, layers, parameters; with an estimate also memory against capacity,
// time per micro-batch (over the workload), send time and simulated busy fraction.
std::string plan_table(const Plan& plan, const ModelSpec& spec, const PlanContext* ctx, const PlanEstimate* est);
// "bottleneck ..." and "predicted: ... sequences/s, ... tokens/s, bubble ...".
std::string plan_summary(const Plan& plan, const PlanEstimate& est);
// Per-stage timeline of the simulated run (forward: the round; generate: the prefill and the
// first decode rounds), `width` characters wide.
std::string plan_timeline(const PlanEstimate& est, int width = 96);

}  // namespace ps
