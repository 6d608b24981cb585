// `pipeshard launch`, `pipeshard run` and tools/launch.sh as a user runs them: the real binary.
#include <gtest/gtest.h>

#include "support/test_support.h"

#include <string>

namespace ps {
namespace {

using test::run_command;
using test::run_pipeshard;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::string kLaunchSh = std::string(PIPESHARD_SOURCE_DIR) + "/tools/launch.sh";

TEST(LaunchCli, OneNodeTwoWorkers) {
  const auto r = run_pipeshard({"launch", "--nnodes", "1", "--node-rank", "0", "--nproc-per-node", "2", "--master-addr",
                                "127.0.0.1", "--master-port", "29611", "--", "/bin/sh", "-c",
                                "echo rank=$RANK world=$WORLD_SIZE"},
                               30);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "[rank 0] rank=0 world=2\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "[rank 1] rank=1 world=2\n")) << r.out;
}

TEST(LaunchCli, SecondNodeOfTwoRunsTheUpperRanks) {
  const auto r = run_command({"env", "PIPESHARD_JOB_TOKEN=shared", PIPESHARD_BIN, "launch", "--nnodes=2", "--node-rank=1",
                              "--nproc-per-node=2", "--master-addr=10.1.2.3", "--master-port=29613", "--", "/bin/sh",
                              "-c", "echo $RANK/$WORLD_SIZE $LOCAL_RANK/$LOCAL_WORLD_SIZE $GROUP_RANK $MASTER_ADDR:$MASTER_PORT $PIPESHARD_JOB_TOKEN"},
                             30);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "[rank 2] 2/4 0/2 1 10.1.2.3:29613 shared\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "[rank 3] 3/4 1/2 1 10.1.2.3:29613 shared\n")) << r.out;
}

TEST(LaunchCli, ManyNodesNeedATokenAndAMasterAddress) {
  auto r = run_command({"env", "-u", "PIPESHARD_JOB_TOKEN", PIPESHARD_BIN, "launch", "--nnodes", "2", "--master-addr",
                        "10.0.0.1", "--", "true"},
                       30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "PIPESHARD_JOB_TOKEN")) << r.err;
  r = run_command({"env", "PIPESHARD_JOB_TOKEN=x", PIPESHARD_BIN, "launch", "--nnodes", "2", "--", "true"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--master-addr is required")) << r.err;
}

TEST(LaunchCli, BadCommandLines) {
  auto r = run_pipeshard({"launch", "--nproc-per-node", "2"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "no worker command")) << r.err;
  r = run_pipeshard({"launch", "--node-rank", "1", "--", "true"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--node-rank: 1 is not in 0..0")) << r.err;
  r = run_pipeshard({"launch", "--nproc", "2", "--", "true"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "unknown option --nproc")) << r.err;
  r = run_pipeshard({"launch", "--", "/nonexistent/worker"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "/nonexistent/worker")) << r.err;
}

TEST(LaunchCli, AWorkersStatusBecomesTheLaunchers) {
  const auto r = run_pipeshard({"launch", "--nproc-per-node", "2", "--grace-seconds", "0.5", "--", "/bin/sh", "-c",
                                "if [ $RANK = 1 ]; then exit 2; fi; exec sleep 30"},
                               30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "pipeshard launch: rank 1 exited with status 2; stopped the other 1 rank\n")) << r.err;
}

TEST(LaunchCli, TheFirstFailureIsNamedNotTheLowestRank) {
  // Rank 0 stops the launcher, kills rank 1, waits until it is dead, then fails itself, and has
  // the launcher continued: the launcher finds both dead in one look and must name rank 1.
  test::TempDir dir;
  const std::string script =
      "D=" + dir.path() + "\n"
      "if [ $RANK = 1 ]; then echo $$ > $D/p1.tmp; mv $D/p1.tmp $D/p1; exec sleep 30; fi\n"
      "while [ ! -f $D/p1 ]; do sleep 0.01; done; P1=$(cat $D/p1); L=$PPID\n"
      "kill -STOP $L; kill -9 $P1\n"
      "while ! grep -q '^State:.*Z' /proc/$P1/status; do sleep 0.01; done\n"
      "(sleep 0.3; kill -CONT $L) &\n"
      "exit 1\n";
  const auto r = run_pipeshard({"launch", "--nproc-per-node", "2", "--", "/bin/sh", "-c", script}, 30);
  EXPECT_EQ(r.exit_code, 137) << r.err;
  EXPECT_TRUE(contains(r.err, "pipeshard launch: rank 1 was killed by signal 9 (SIGKILL)")) << r.err;
}

TEST(LaunchCli, PipeshardMeansThisBinary) {
  // With an empty PATH `pipeshard` could not be found: the word itself stands for this binary.
  const auto r = run_command({"env", "PATH=", PIPESHARD_BIN, "launch", "--", "pipeshard", "--help"}, 30);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "[rank 0] usage: pipeshard <command>")) << r.err;
}

TEST(LaunchSh, TorchrunFlagsBothSpellings) {
  const auto r = run_command({"env", std::string("PIPESHARD_BIN=") + PIPESHARD_BIN, kLaunchSh, "--nnodes=1",
                              "--nproc_per_node", "2", "--master-port=29612", "--", "/bin/sh", "-c",
                              "echo r=$RANK port=$MASTER_PORT"},
                             30);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "[rank 0] r=0 port=29612\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "[rank 1] r=1 port=29612\n")) << r.out;
}

TEST(LaunchSh, UsageOnError) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--bogus", "1", "--", "true"}, {"--nnodes", "1"}, {"--nnodes"}, {"stray", "--", "true"}}) {
    std::vector<std::string> argv{"env", std::string("PIPESHARD_BIN=") + PIPESHARD_BIN, kLaunchSh};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_command(argv, 30);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_TRUE(contains(r.err, "usage: tools/launch.sh")) << r.err;
  }
}

TEST(RunCli, APlanOverSeveralNodesPointsToLaunchSh) {
  const auto r = run_pipeshard({"run", "--plan", std::string(PIPESHARD_SOURCE_DIR) + "/configs/plans/llama-3-70b-2node-ib.json",
                                "--input", "in.jsonl", "--output", "out.jsonl"},
                               30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "runs on node 1")) << r.err;
  EXPECT_TRUE(contains(r.err, "tools/launch.sh")) << r.err;
}

TEST(RunCli, BadFlagsFailOnceBeforeAnyWorker) {
  auto r = run_pipeshard({"run", "--plan", "p.json", "--inptu", "x"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "unknown option --inptu")) << r.err;
  EXPECT_FALSE(contains(r.err, "[rank")) << r.err;
  r = run_pipeshard({"run", "--plan", "p.json", "--input", "x", "--output", "y", "--grace-seconds", "-1"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--grace-seconds")) << r.err;
  r = run_pipeshard({"run", "--plan", "/nonexistent/plan.json", "--input", "x", "--output", "y"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "/nonexistent/plan.json")) << r.err;
  EXPECT_FALSE(contains(r.err, "[rank")) << r.err;
}

}  // namespace
}  // namespace ps
