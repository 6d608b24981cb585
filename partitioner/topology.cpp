#include "partitioner/topology.h"

#include <algorithm>

#include "partitioner/plan.h"
#include "runtime/core/error.h"

namespace ps {

Topology topology_make(int replicas, int stages, int tp) {
  if (replicas < 1 || stages < 1 || tp < 1)
    fail_input("topology: ", replicas, " replica(s) of ", stages, " stage(s) x ", tp,
               " rank(s) per stage: each must be >= 1");
  if (tp != 1) fail_input("topology: ", tp, " ranks per stage (tensor parallelism) is not supported yet");
  Topology t;
  t.replicas = replicas;
  t.stages = stages;
  t.tp = tp;
  t.stage_nodes.assign(static_cast<size_t>(stages), 0);
  return t;
}

Topology topology_from_plan(const Plan& plan) {
  Topology t = topology_make(plan.replicas, plan.num_stages());
  for (size_t s = 0; s < plan.stages.size(); ++s) t.stage_nodes[s] = plan.stages[s].node;
  return t;
}

int topology_world(const Topology& t) { return t.replicas * t.stages * t.tp; }

int rank_of(const Topology& t, int replica, int stage, int tp_rank) {
  if (replica < 0 || replica >= t.replicas || stage < 0 || stage >= t.stages || tp_rank < 0 || tp_rank >= t.tp)
    fail_input("topology: replica ", replica, " stage ", stage, " tp_rank ", tp_rank, " is outside ", t.replicas,
               " replica(s) x ", t.stages, " stage(s) x ", t.tp);
  return (replica * t.stages + stage) * t.tp + tp_rank;
}

RankCoord coord_of(const Topology& t, int rank) {
  const int world = topology_world(t);
  if (rank < 0 || rank >= world)
    fail_input("topology: rank ", rank, " is outside 0..", world - 1, " (", t.replicas, " replica(s) x ", t.stages,
               " stage(s) x ", t.tp, ")");
  RankCoord c;
  c.rank = rank;
  c.tp_rank = rank % t.tp;
  c.stage = (rank / t.tp) % t.stages;
  c.replica = rank / (t.tp * t.stages);
  c.node = t.stage_nodes.empty() ? 0 : t.stage_nodes[static_cast<size_t>(c.stage)];
  return c;
}

PipelinePeers pipeline_peers(const Topology& t, int rank) {
  const RankCoord c = coord_of(t, rank);
  PipelinePeers p;
  if (c.stage > 0) p.prev = rank_of(t, c.replica, c.stage - 1, c.tp_rank);
  if (c.stage + 1 < t.stages) p.next = rank_of(t, c.replica, c.stage + 1, c.tp_rank);
  p.first = rank_of(t, c.replica, 0, c.tp_rank);
  p.last = rank_of(t, c.replica, t.stages - 1, c.tp_rank);
  return p;
}

int stage_peer_rank(const Topology& t, int rank, int stage) {
  const RankCoord c = coord_of(t, rank);
  if (stage < 0 || stage >= t.stages)
    fail_input("topology: rank ", rank, " (replica ", c.replica, " stage ", c.stage, ") has no peer stage ", stage,
               " in a ", t.stages, "-stage pipeline");
  return rank_of(t, c.replica, stage, c.tp_rank);
}

std::vector<std::pair<int, int>> topology_links(const Topology& t) {
  std::vector<std::pair<int, int>> out;
  for (int r = 0; r < topology_world(t); ++r) {
    const PipelinePeers p = pipeline_peers(t, r);
    if (p.next >= 0) out.emplace_back(r, p.next);                       // activations
    if (r == p.first && p.last != r) out.emplace_back(p.first, p.last);  // tokens back to the first
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());  // two stages: both are one pair
  return out;
}

std::vector<int> topology_link_peers(const Topology& t, int rank) {
  coord_of(t, rank);  // names a rank outside the topology
  std::vector<int> out;
  for (const auto& [a, b] : topology_links(t)) {
    if (a == rank) out.push_back(b);
    if (b == rank) out.push_back(a);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ps
