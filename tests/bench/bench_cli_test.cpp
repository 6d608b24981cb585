// `pipeshard bench` end to end on a tiny model with real worker processes: the merged trace holds
// every instruction of the schedule once per micro-batch, round and rank, with no two compute
// events of a rank overlapping; `wrong` is 0 on a normal run and counts a corrupted activation.
// No timing is asserted.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "partitioner/schedule.h"
#include "partitioner/workload.h"
#include "runtime/bench/bench_config.h"
#include "runtime/comm/fault_injection.h"
#include "runtime/bench/rank_record.h"
#include "runtime/core/json_util.h"
#include "support/test_support.h"

namespace ps::test {
namespace {

std::string src(const std::string& rel) { return std::string(PIPESHARD_SOURCE_DIR) + "/" + rel; }

class BenchCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const CommandResult r = run_pipeshard({"make-model", "--family", "llama", "--preset", "tiny", "--dtype", "f32",
                                           "--seed", "3", "--out", dir_->file("tiny")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }

  static CommandResult bench(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"bench",
                                     "--model",
                                     dir_->file("tiny"),
                                     "--cluster",
                                     src("configs/clusters/cpu-2core.json"),
                                     "--prompt-len",
                                     "6",
                                     "--warmup",
                                     "0",
                                     "--repeat",
                                     "1",
                                     "--out-dir",
                                     dir_->file(out)};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_pipeshard(args, 300);
  }
  static TempDir* dir_;
};
TempDir* BenchCli::dir_ = nullptr;

using Key = std::tuple<int, int, int, std::string>;  // rank, round, micro-batch, op

// Checks a trace against the schedules (schedule.h) its ranks ran, whose metrics are in `metrics`.
void expect_trace_matches_schedule(const std::string& trace_path, const std::string& metrics, Mode mode, int stages,
                                   int micro_batches) {
  const Json trace = json_read_file(trace_path);
  ASSERT_TRUE(trace.contains("traceEvents") && trace["traceEvents"].is_array());
  std::map<Key, int> seen;
  std::map<int, std::vector<std::pair<double, double>>> compute;  // rank -> [ts, end)
  for (const Json& e : trace["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e.contains("pid") && e.contains("name")) << e.dump();
    if (e["ph"] == "M") continue;
    ASSERT_EQ(e["ph"], "X") << e.dump();
    ASSERT_TRUE(e["ts"].is_number() && e["dur"].is_number() && e["dur"].get<double>() >= 0) << e.dump();
    const std::string op = e["name"];
    const auto code = op_from_code(op);
    ASSERT_TRUE(code) << op;
    EXPECT_EQ(e["tid"], op_is_compute(*code) ? 0 : 1) << e.dump();
    ++seen[{e["pid"].get<int>(), e["args"]["round"].get<int>(), e["args"]["mb"].get<int>(), op}];
    if (op_is_compute(*code))
      compute[e["pid"]].push_back({e["ts"].get<double>(), e["ts"].get<double>() + e["dur"].get<double>()});
  }
  // The expected events: every round's schedule on every rank. The rank files say how many rounds ran.
  const std::vector<RankRecord> ranks = rank_records_read(metrics);
  ASSERT_EQ(static_cast<int>(ranks.size()), stages);
  std::map<Key, int> expected;
  for (const RankRecord& r : ranks) {
    ASSERT_GT(r.rounds, 0);
    std::vector<std::pair<int, RoundKind>> rounds;
    for (int k = 0; k < r.rounds; ++k)
      rounds.push_back({k, mode == Mode::Forward ? RoundKind::Forward
                           : k == 0              ? RoundKind::Prefill
                                                 : RoundKind::Decode});
    if (mode == Mode::Generate) rounds.push_back({r.rounds, RoundKind::Drain});
    for (const auto& [k, kind] : rounds)
      for (const Instruction& ins : make_schedule(kind, r.stage, stages, micro_batches))
        ++expected[{r.rank, k, ins.mb, op_code(ins.op)}];
  }
  EXPECT_EQ(seen, expected);
  for (auto& [rank, spans] : compute) {
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i)
      EXPECT_LE(spans[i - 1].second, spans[i].first + 1e-3) << "rank " << rank << ": compute events overlap";
  }
}

const Json& config_of(const Json& results, size_t i) { return results["configs"][i]; }

TEST_F(BenchCli, ForwardSweepTracesEveryInstructionAndIsNotWrong) {
  const CommandResult r =
      bench("fwd", {"--stages", "2", "--sweep", "micro_batches=1,2", "--batch", "2", "--requests", "4", "--trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("| wrong |"), std::string::npos) << r.out;
  const Json res = json_read_file(dir_->file("fwd/results.json"));
  ASSERT_EQ(res["configs"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Json& c = config_of(res, i);
    EXPECT_EQ(c["wrong"], 0);
    EXPECT_EQ(c["micro_batches"], i == 0 ? 1 : 2);
    EXPECT_EQ(c["per_stage"].size(), 2u);
    EXPECT_GT(c["measured"]["tokens_per_s"].get<double>(), 0);
    EXPECT_TRUE(c.contains("predicted"));
    const std::string d = dir_->file("fwd/" + c["dir"].get<std::string>());
    expect_trace_matches_schedule(d + "/trace.json", d + "/run-0.metrics", Mode::Forward, 2, c["micro_batches"]);
  }
  EXPECT_TRUE(file_exists(dir_->file("fwd/results.csv")));
}

TEST_F(BenchCli, GenerateThreeStagesTracesEveryRound) {
  const CommandResult r = bench("gen", {"--stages", "3", "--mode", "generate", "--micro-batches", "2", "--batch", "4",
                                        "--max-new-tokens", "3", "--trace"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const Json res = json_read_file(dir_->file("gen/results.json"));
  const Json& c = config_of(res, 0);
  EXPECT_EQ(c["wrong"], 0);
  EXPECT_GT(c["measured"]["ttft_p50_s"].get<double>(), 0);
  EXPECT_GT(c["measured"]["tpot_p50_s"].get<double>(), 0);
  const std::string d = dir_->file("gen/" + c["dir"].get<std::string>());
  expect_trace_matches_schedule(d + "/trace.json", d + "/run-0.metrics", Mode::Generate, 3, 2);
}

TEST_F(BenchCli, RunWritesTheTraceOfANormalRun) {
  const std::string plan = dir_->file("run-plan.json");
  CommandResult r =
      run_pipeshard({"plan", "--model", dir_->file("tiny"), "--cluster", src("configs/clusters/cpu-2core.json"),
                     "--stages", "2", "--micro-batches", "2", "--batch", "4", "--mode", "generate", "--prompt-len", "5",
                     "--max-new-tokens", "4", "--out", plan});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  write_text(dir_->file("run-requests.jsonl"), requests_synthetic(6, 5, 4, 512, 9));
  r = run_pipeshard({"run", "--plan", plan, "--input", dir_->file("run-requests.jsonl"), "--output",
                     dir_->file("run-out.jsonl"), "--metrics-dir", dir_->file("run-metrics"), "--trace",
                     dir_->file("run-trace.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_trace_matches_schedule(dir_->file("run-trace.json"), dir_->file("run-metrics"), Mode::Generate, 2, 2);
  // Without --metrics-dir the metrics go to a folder of its own, removed after.
  r = run_pipeshard({"run", "--plan", plan, "--input", dir_->file("run-requests.jsonl"), "--output",
                     dir_->file("run-out2.jsonl"), "--trace", dir_->file("run-trace2.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(json_read_file(dir_->file("run-trace2.json")).contains("traceEvents"));
  EXPECT_FALSE(file_exists(dir_->file("run-trace2.json.metrics")));
}

TEST_F(BenchCli, CorruptedActivationIsCountedWrong) {
  ASSERT_EQ(::setenv(kFaultCorruptActivationEnv, "0", 1), 0);
  const CommandResult r = bench("fault", {"--stages", "2", "--micro-batches", "2", "--batch", "2"});
  ::unsetenv(kFaultCorruptActivationEnv);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("differ from the one-stage run"), std::string::npos) << r.err;
  const Json res = json_read_file(dir_->file("fault/results.json"));
  const Json& c = config_of(res, 0);
  EXPECT_GE(c["wrong"].get<int>(), 1);
}

TEST_F(BenchCli, BadSweepIsBadInput) {
  const CommandResult r = bench("bad", {"--stages", "2", "--sweep", "microbatches=1,2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean micro_batches?"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ps::test
