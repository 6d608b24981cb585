// The ranks of a job and who talks to whom, as one plain value built from the plan. Every place
// that maps a rank to its replica and stage, or a stage back to a rank, asks it: the plan's
// placement (plan.h), the worker (its transport's peers), the executor (the rank of an
// instruction's peer stage), the benchmark (which ranks' records pair up) and the Gloo transport
// (the pairs it connects).
//
// Numbering: rank = (replica * stages + stage) * tp + tp_rank. Today tp = 1, which is
// configs/plans/README.md's rank = replica * P + stage. With tensor parallelism (a stage split
// over T ranks) the T ranks of one stage get consecutive numbers -- they share a node and talk
// most (all-reduce inside every layer) -- so a plan of P stages x T x R replicas runs R * P * T
// ranks; activations go between equal tp_ranks of neighbouring stages, and the ranks of one stage
// also talk to each other. That issue fills in tp > 1 here (topology_make refuses it until then).
#pragma once

#include <utility>
#include <vector>

namespace ps {

struct Plan;

struct RankCoord {
  int rank = 0, replica = 0, stage = 0;
  int tp_rank = 0;  // the rank inside its stage: 0 until tensor parallelism
  int node = 0;     // the node its stage names in the plan
  friend bool operator==(const RankCoord&, const RankCoord&) = default;
};

struct Topology {
  int replicas = 1, stages = 1;
  int tp = 1;                    // ranks per stage (tensor parallelism): 1 for now
  std::vector<int> stage_nodes;  // the node of each stage; all 0 when made without a plan
  friend bool operator==(const Topology&, const Topology&) = default;
};

// R replicas of P stages, every stage on node 0 (for tests and tools that know no plan).
// InvalidInput on a count below 1, and on tp != 1 (not supported yet).
Topology topology_make(int replicas, int stages, int tp = 1);
// The plan's replicas and stages, each stage on the node it names.
Topology topology_from_plan(const Plan& plan);

int topology_world(const Topology& t);  // replicas * stages * tp
// InvalidInput naming the coordinate, or the rank, when it is outside the topology.
int rank_of(const Topology& t, int replica, int stage, int tp_rank = 0);
RankCoord coord_of(const Topology& t, int rank);

// The pipeline neighbours of a rank inside its replica (and tp_rank).
struct PipelinePeers {
  int prev = -1, next = -1;  // the previous / next stage's rank; -1 at the first / last stage
  int first = 0, last = 0;   // the rank of its replica's first / last stage (itself when it is one)
  friend bool operator==(const PipelinePeers&, const PipelinePeers&) = default;
};
PipelinePeers pipeline_peers(const Topology& t, int rank);

// The rank of stage `stage` in the replica (and tp_rank) of `rank`: an instruction's peer
// (partitioner/schedule.h, a stage index within the replica) as a rank. InvalidInput naming both
// when the stage is outside the pipeline.
int stage_peer_rank(const Topology& t, int rank, int stage);

// The pairs of ranks that exchange messages, each once as (lower, higher), sorted: activations
// between neighbouring stages, and the sampled tokens from the last stage back to the first. No
// other traffic goes between ranks (results and set-up go through the rendezvous store).
std::vector<std::pair<int, int>> topology_links(const Topology& t);
// The ranks that `rank` exchanges messages with (its side of topology_links), sorted.
std::vector<int> topology_link_peers(const Topology& t, int rank);

}  // namespace ps
