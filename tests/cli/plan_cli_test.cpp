// `pipeshard plan` as a user runs it: exit status, messages, files written or not.
#include <gtest/gtest.h>

#include "support/test_support.h"

namespace ps::test {
namespace {

std::string src(const std::string& rel) { return std::string(PIPESHARD_SOURCE_DIR) + "/" + rel; }

TEST(PlanCli, CheckReportsTheJsonPathAndExits2) {
  TempDir dir;
  const std::string plan = dir.file("bad.json");
  write_text(plan, "{\"model\": \"" + src("configs/models/gpt2-xl") + "\", \"stages\": [{\"layers\": \"0-20\", \"device\": "
                   "\"cuda:0\"}, {\"layers\": \"22-49\", \"device\": \"cuda:1\"}]}");
  const CommandResult r = run_pipeshard({"plan", "--check", plan});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, "pipeshard plan: error: " + plan +
                       ": stages[1].layers: layer 21 belongs to no stage (stages[0] ends at layer 20, stages[1] starts at 22)\n");
  write_text(plan, "{\"model\": \"x\", \"stages\": [{\"layers\": \"0-20\", \"devise\": \"cuda:0\"}]}");
  const CommandResult typo = run_pipeshard({"plan", "--check", plan});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_EQ(typo.err, "pipeshard plan: error: " + plan + ": stages[0].devise: unknown key (did you mean 'device'?)\n");
}

TEST(PlanCli, CheckAcceptsAHandWrittenPlan) {
  const CommandResult r = run_pipeshard({"plan", "--check", src("configs/plans/gpt2-xl-hand.json")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("configs/plans/gpt2-xl-hand.json: ok (2 stage(s), 1 replica(s), 50 layers"), std::string::npos) << r.out;
  // With a cluster it also checks memory and predicts; two stages on one GPU would warn.
  const CommandResult c = run_pipeshard({"plan", "--check", src("configs/plans/gpt2-xl-hand.json"), "--cluster",
                                         src("configs/clusters/a100-pcie-4x.json"), "--simulate"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("predicted: "), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("timeline ("), std::string::npos) << c.out;
}

TEST(PlanCli, ShippedPlansValidateOnTheirClusters) {
  for (const auto& [plan, cluster] : std::vector<std::pair<std::string, std::string>>{
           {"llama-3-8b-h100x8-generate.json", "h100-sxm-8x.json"},
           {"llama-3-70b-2node-ib.json", "h100-2node-ib.json"},
           {"gpt2-xl-mixed.json", "mixed-2large-2small.json"}}) {
    const CommandResult r =
        run_pipeshard({"plan", "--check", src("configs/plans/" + plan), "--cluster", src("configs/clusters/" + cluster)});
    EXPECT_EQ(r.exit_code, 0) << plan << ": " << r.err;
  }
}

TEST(PlanCli, PlansWritesAndRechecks) {
  TempDir dir;
  const std::string out = dir.file("plan.json");
  const CommandResult r = run_pipeshard({"plan", "--model", src("configs/models/llama-3-8b"), "--cluster",
                                         src("configs/clusters/h100-sxm-8x.json"), "--stages", "4", "--mode", "generate",
                                         "--batch", "8", "--micro-batches", "4", "--max-new-tokens", "16", "--simulate",
                                         "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("memory / capacity"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stage  3 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wrote " + out), std::string::npos) << r.out;
  ASSERT_TRUE(file_exists(out));
  const CommandResult check = run_pipeshard({"plan", "--check", out, "--cluster", src("configs/clusters/h100-sxm-8x.json")});
  EXPECT_EQ(check.exit_code, 0) << check.err;
}

TEST(PlanCli, InfeasibleWritesNothing) {
  TempDir dir;
  const std::string out = dir.file("plan.json");
  const CommandResult r = run_pipeshard({"plan", "--model", src("configs/models/llama-3-70b"), "--cluster",
                                         src("configs/clusters/a100-pcie-4x.json"), "--stages", "1", "--out", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("pipeshard plan: error: needs at least 2 stages of node0/cuda:0"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(out));
}

TEST(PlanCli, BadOptions) {
  const CommandResult r = run_pipeshard({"plan", "--clustr", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option --clustr (did you mean --cluster?)"), std::string::npos) << r.err;
  const CommandResult m = run_pipeshard({"plan", "--model", src("configs/models/gpt2-xl"), "--cluster",
                                         src("configs/clusters/cpu-2core.json"), "--method", "greedy"});
  EXPECT_EQ(m.exit_code, 2);
  EXPECT_NE(m.err.find("--method 'greedy' is not one of uniform, params, optimal"), std::string::npos) << m.err;
}

}  // namespace
}  // namespace ps::test
