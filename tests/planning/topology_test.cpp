// The job's rank topology against hand-computed tables: rank <-> (replica, stage, node), the
// pipeline peers of each rank, a stage as a rank, and the pairs of ranks that talk.
#include <gtest/gtest.h>

#include "partitioner/plan.h"
#include "partitioner/topology.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

// The message of the InvalidInput error `f` throws ("" and a failure when it throws none).
template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an InvalidInput error";
  return "";
}

// 2 replicas x 3 stages, the last stage on node 1.
Plan two_by_three() {
  Plan p;
  p.replicas = 2;
  for (int s = 0; s < 3; ++s) {
    StagePlan sp;
    sp.first = sp.last = s;
    sp.node = s == 2 ? 1 : 0;
    p.stages.push_back(sp);
  }
  return p;
}

TEST(Topology, FromPlanNumbersRanksReplicaMajor) {
  const Topology t = topology_from_plan(two_by_three());
  EXPECT_EQ(t.replicas, 2);
  EXPECT_EQ(t.stages, 3);
  EXPECT_EQ(t.tp, 1);
  EXPECT_EQ(t.stage_nodes, (std::vector<int>{0, 0, 1}));
  ASSERT_EQ(topology_world(t), 6);
  const RankCoord want[6] = {// rank, replica, stage, tp_rank, node
                             {0, 0, 0, 0, 0}, {1, 0, 1, 0, 0}, {2, 0, 2, 0, 1},
                             {3, 1, 0, 0, 0}, {4, 1, 1, 0, 0}, {5, 1, 2, 0, 1}};
  for (int r = 0; r < 6; ++r) {
    EXPECT_EQ(coord_of(t, r), want[r]) << r;
    EXPECT_EQ(rank_of(t, want[r].replica, want[r].stage), r) << r;
  }
}

TEST(Topology, PipelinePeersOfEveryRank) {
  const Topology t = topology_make(2, 3);
  const PipelinePeers want[6] = {// prev, next, first, last
                                 {-1, 1, 0, 2}, {0, 2, 0, 2}, {1, -1, 0, 2},
                                 {-1, 4, 3, 5}, {3, 5, 3, 5}, {4, -1, 3, 5}};
  for (int r = 0; r < 6; ++r) EXPECT_EQ(pipeline_peers(t, r), want[r]) << r;
  // One stage: the rank is its own first and last, with no neighbours.
  EXPECT_EQ(pipeline_peers(topology_make(3, 1), 2), (PipelinePeers{-1, -1, 2, 2}));
}

TEST(Topology, StagePeerRankStaysInTheReplica) {
  const Topology t = topology_make(2, 3);
  EXPECT_EQ(stage_peer_rank(t, 4, 0), 3);
  EXPECT_EQ(stage_peer_rank(t, 4, 2), 5);
  EXPECT_EQ(stage_peer_rank(t, 0, 2), 2);
  EXPECT_EQ(input_error([&] { stage_peer_rank(t, 4, 3); }),
            "topology: rank 4 (replica 1 stage 1) has no peer stage 3 in a 3-stage pipeline");
}

TEST(Topology, LinksAreNeighboursAndLastToFirst) {
  // 2 x 4: activations 0-1, 1-2, 2-3 and tokens 0-3, in each replica.
  const Topology t = topology_make(2, 4);
  const std::vector<std::pair<int, int>> want = {{0, 1}, {0, 3}, {1, 2}, {2, 3}, {4, 5}, {4, 7}, {5, 6}, {6, 7}};
  EXPECT_EQ(topology_links(t), want);
  EXPECT_EQ(topology_link_peers(t, 0), (std::vector<int>{1, 3}));
  EXPECT_EQ(topology_link_peers(t, 5), (std::vector<int>{4, 6}));
  EXPECT_EQ(topology_link_peers(t, 7), (std::vector<int>{4, 6}));
  // Two stages: the neighbours are also first and last, one pair per replica.
  EXPECT_EQ(topology_links(topology_make(3, 2)), (std::vector<std::pair<int, int>>{{0, 1}, {2, 3}, {4, 5}}));
  // One stage: nobody talks.
  EXPECT_TRUE(topology_links(topology_make(4, 1)).empty());
  EXPECT_TRUE(topology_link_peers(topology_make(4, 1), 3).empty());
}

TEST(Topology, OutOfRangeNamesTheRankOrCoordinate) {
  const Topology t = topology_make(2, 3);
  EXPECT_EQ(input_error([&] { coord_of(t, 6); }), "topology: rank 6 is outside 0..5 (2 replica(s) x 3 stage(s) x 1)");
  EXPECT_EQ(input_error([&] { coord_of(t, -1); }), "topology: rank -1 is outside 0..5 (2 replica(s) x 3 stage(s) x 1)");
  EXPECT_EQ(input_error([&] { rank_of(t, 2, 0); }),
            "topology: replica 2 stage 0 tp_rank 0 is outside 2 replica(s) x 3 stage(s) x 1");
  EXPECT_NE(input_error([&] { pipeline_peers(t, 9); }).find("rank 9 is outside"), std::string::npos);
  EXPECT_NE(input_error([&] { topology_make(0, 3); }).find("each must be >= 1"), std::string::npos);
  EXPECT_NE(input_error([&] { topology_make(1, 3, 2); }).find("not supported yet"), std::string::npos);
}

}  // namespace
}  // namespace ps
