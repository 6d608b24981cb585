// The plan file: write and read back, rank placement, model path resolution.
#include <gtest/gtest.h>

#include "partitioner/plan.h"
#include "planning_fixtures.h"

namespace ps {
namespace {

Plan sample_plan() {
  Plan p;
  p.model = "../models/tiny";
  p.dtype = DType::BF16;
  p.replicas = 2;
  p.workload.mode = Mode::Generate;
  p.workload.batch = 8;
  p.workload.micro_batches = 4;
  p.workload.prompt_len = 64;
  p.workload.max_new_tokens = 16;
  StagePlan a;
  a.first = 0;
  a.last = 2;
  a.device = Device::cuda(0);
  StagePlan b = a;
  b.first = 3;
  b.last = 3;
  b.device = Device::cuda(1);
  b.dtype = DType::F32;
  StagePlan c = a;
  c.first = 4;
  c.last = 5;
  c.device = Device::cpu();
  c.node = 1;
  c.threads = 2;
  p.stages = {a, b, c};
  PlanPredictions pr;
  pr.method = "optimal";
  pr.cluster = "x";
  pr.bottleneck_s = 0.5;
  pr.makespan_s = 2.25;
  pr.sequences_per_s = 7.0;
  pr.tokens_per_s = 112.0;
  pr.bubble = 0.125;
  pr.stages = {{10, 100, 1000, 0.25, 0.125, 1.5}, {20, 200, 2000, 0.5, 0, 2}, {30, 300, 3000, 0.375, 0.0625, 1.75}};
  p.predictions = pr;
  return p;
}

TEST(PlanJson, WritesOneStagePerLineAndReadsBack) {
  const Plan p = sample_plan();
  const std::string text = plan_dump(p);
  EXPECT_NE(text.find("\n    {\"layers\":\"3\",\"device\":\"cuda:1\",\"node\":0,\"dtype\":\"f32\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("\"version\": 1,"), std::string::npos) << text;
  const Plan q = plan_from_json(json_parse(text, "p.json"), "p.json");
  EXPECT_EQ(plan_dump(q), text);
  EXPECT_EQ(q.model, p.model);
  EXPECT_EQ(q.dtype, DType::BF16);
  EXPECT_EQ(q.replicas, 2);
  EXPECT_EQ(q.workload.mode, Mode::Generate);
  EXPECT_EQ(q.workload.batch, 8);
  EXPECT_EQ(q.workload.micro_batches, 4);
  EXPECT_EQ(q.workload.prompt_len, 64);
  EXPECT_EQ(q.workload.max_new_tokens, 16);
  ASSERT_EQ(q.num_stages(), 3);
  EXPECT_EQ(q.stages[2].device, Device::cpu());
  EXPECT_EQ(q.stages[2].node, 1);
  EXPECT_EQ(q.stages[2].threads, 2);
  EXPECT_EQ(q.stage_dtype(1), DType::F32);
  EXPECT_EQ(q.stage_dtype(2), DType::BF16);
  ASSERT_TRUE(q.predictions);
  EXPECT_EQ(q.predictions->tokens_per_s, 112.0);
  ASSERT_EQ(q.predictions->stages.size(), 3u);
  EXPECT_EQ(q.predictions->stages[2].memory_bytes, 300);
  EXPECT_EQ(q.predictions->stages[0].busy_s, 1.5);
}

TEST(PlanJson, WriteIsAtomic) {
  test::TempDir dir;
  plan_write(sample_plan(), dir.file("p.json"));
  EXPECT_EQ(test::read_text(dir.file("p.json")), plan_dump(sample_plan()));
  EXPECT_THROW(plan_write(sample_plan(), dir.file("missing/p.json")), Error);
  EXPECT_FALSE(test::file_exists(dir.file("missing/p.json")));
}

TEST(PlanJson, RankPlacement) {
  Plan p = sample_plan();  // 3 stages x 2 replicas; GPU stages on node 0 use cuda:0, cuda:1 -> stride 2
  ASSERT_EQ(plan_world_size(p), 6);
  const int expect[6][4] = {// replica, stage, node, device index
                            {0, 0, 0, 0}, {0, 1, 0, 1}, {0, 2, 1, 0}, {1, 0, 0, 2}, {1, 1, 0, 3}, {1, 2, 1, 0}};
  for (int r = 0; r < 6; ++r) {
    const RankPlacement rp = plan_rank_placement(p, r);
    EXPECT_EQ(rp.rank, r);
    EXPECT_EQ(rp.replica, expect[r][0]) << r;
    EXPECT_EQ(rp.stage, expect[r][1]) << r;
    EXPECT_EQ(rp.node, expect[r][2]) << r;
    EXPECT_EQ(rp.device.index, expect[r][3]) << r;
    EXPECT_EQ(rp.device.is_cpu(), r % 3 == 2) << r;
  }
  // Stages on cuda:2 and cuda:3 give a stride of 4: replica 1 on cuda:6, cuda:7.
  p.stages[0].device = Device::cuda(2);
  p.stages[1].device = Device::cuda(3);
  EXPECT_EQ(plan_rank_placement(p, 3).device, Device::cuda(6));
  EXPECT_EQ(plan_rank_placement(p, 4).device, Device::cuda(7));
}

TEST(PlanJson, ModelPathIsRelativeToThePlan) {
  Plan p;
  p.model = "../models/tiny";
  EXPECT_EQ(plan_model_dir(p, "/data/plans/p.json"), "/data/models/tiny");
  EXPECT_EQ(plan_model_dir(p, "p.json"), "../models/tiny");
  p.model = "/abs/m";
  EXPECT_EQ(plan_model_dir(p, "/data/plans/p.json"), "/abs/m");
}

TEST(PlanJson, LayerRanges) {
  EXPECT_EQ(plan_parse_layers("0-12", "x"), std::make_pair(0, 12));
  EXPECT_EQ(plan_parse_layers("7", "x"), std::make_pair(7, 7));
  EXPECT_EQ(plan_parse_layers("3-3", "x"), std::make_pair(3, 3));
  for (const char* bad : {"", "-", "1-", "-2", "a-b", "1 - 2", "1-2-3", "99999999"}) EXPECT_THROW(plan_parse_layers(bad, "x"), Error) << bad;
}

}  // namespace
}  // namespace ps
