// Partition algorithms: pure functions from costs to a boundary array (after DeepSpeed's
// partition_uniform / partition_balanced). parts has stages + 1 entries, parts[0] = 0,
// parts[stages] = layers, and stage s owns layers [parts[s], parts[s+1]); every stage owns at
// least one layer.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace ps {

using Boundaries = std::vector<int>;

// Equal layer counts; the first layers % stages stages take one more.
Boundaries partition_uniform(int layers, int stages);

// The problem `optimal` solves. Stages sit on devices in a fixed order (heterogeneous allowed);
// stage s's cost for layers [a, b) is its compute time there plus the time to send the boundary
// activation after layer b-1 to the next stage's device:
//     cost(s, a, b) = (time[s][b] + send[s][b]) - time[s][a]      (time: prefix sums)
// and its memory is additive bytes (weights, KV cache) plus the largest transient of its layers:
//     mem(a, b) = (held[b] - held[a]) + max(peak[a..b-1])          must be <= capacity[s].
// Both shrink as a grows for a fixed b; that monotonicity is what makes the search below exact.
struct PartitionProblem {
  int layers = 0;
  std::vector<std::vector<double>> time;  // [stage][0..layers], prefix sums, non-decreasing
  std::vector<std::vector<double>> send;  // [stage][0..layers], >= 0
  std::vector<int64_t> held;              // [0..layers], prefix sums of additive bytes, saturating at
                                          // kBytesMax (saturate.h): a range ending there never fits
  std::vector<int64_t> peak;              // [layer]
  std::vector<int64_t> capacity;          // [stage], bytes the model may use

  int stages() const { return static_cast<int>(time.size()); }
};

// The canonical cost and memory. Every algorithm and every test uses these two, so values compare
// exactly (floating-point subtraction and addition are monotone, which keeps the search exact).
double stage_cost(const PartitionProblem& p, int s, int a, int b);
int64_t stage_memory(const PartitionProblem& p, int a, int b);
// max over stages of stage_cost; and whether every stage fits its capacity.
double partition_bottleneck(const PartitionProblem& p, const Boundaries& parts);
bool partition_fits(const PartitionProblem& p, const Boundaries& parts);

struct PartitionResult {
  Boundaries parts;
  double bottleneck = 0.0;
};

// The split with the smallest bottleneck under the memory limits, or nullopt when no split fits.
// Exact: it finds the smallest double B for which a split with every stage_cost <= B exists, by
// bisection over the ordered bit patterns of doubles (at most 64 feasibility tests, each O(stages
// x layers): stage s can end at b iff the LATEST reachable start a < b fits, since cost and memory
// both shrink as a grows). Among the optimal splits it then picks, stage by stage, the end that
// brings the stage's cost closest to an even share of what remains (ties: more layers early), so
// slack goes to the last stages.
std::optional<PartitionResult> partition_optimal(const PartitionProblem& p);
// Whether any split fits the memory limits (times ignored): one O(stages x layers) pass.
bool partition_feasible(const PartitionProblem& p);

// "params": balance a per-layer weight (parameter counts), ignoring devices and memory; the exact
// min-max split, as DeepSpeed's partition_balanced computes it.
Boundaries partition_balanced(const std::vector<double>& weights, int stages);

// Fewest stages of one device of `capacity` bytes that hold the layers (greedy packing, which is
// optimal for contiguous ranges with monotone memory); nullopt if one layer alone does not fit.
std::optional<int> partition_min_stages(const std::vector<int64_t>& held_prefix, const std::vector<int64_t>& peak,
                                        int64_t capacity);

}  // namespace ps
