// Faults end the job with an error that names the rank and the cause, within the deadline, and
// leave nothing behind: a middle stage killed mid-run, a rank that never joins, a connection with
// the wrong job token, a master port already taken.
#include <gtest/gtest.h>

#include <cstdio>

#include "integration/integration_util.h"

namespace ps::integ {
namespace {

struct Job {
  test::TempDir dir;
  std::string plan, input, output;

  // A `stages`-stage llama plan of batch 4 and M = 2 over `count` requests of `new_tokens` each.
  Job(int stages, int count, int new_tokens) {
    make_model(dir.path(), "llama");
    std::vector<Json> reqs = mixed_requests(count, 12, 1, 5);
    for (auto& r : reqs) r["max_new_tokens"] = new_tokens;
    input = dir.file("requests.jsonl");
    write_jsonl(input, reqs);
    PlanSpec p;
    p.model = "llama";
    p.stages = stages;
    p.batch = 4;
    p.micro_batches = 2;
    plan = write_plan(dir.file("faults.plan.json"), p);
    output = dir.file("out.jsonl");
  }

  std::vector<std::string> worker_args(double timeout_s) const {
    return {pipeshard_bin(), "worker", "--plan",       plan, "--input", input, "--output", output,
            "--timeout-seconds", std::to_string(timeout_s)};
  }
};

Env rank_env(int rank, int world, int port, const std::string& token) {
  return with(clean_env(), {{"RANK", std::to_string(rank)},
                            {"WORLD_SIZE", std::to_string(world)},
                            {"LOCAL_RANK", std::to_string(rank)},
                            {"LOCAL_WORLD_SIZE", std::to_string(world)},
                            {"MASTER_ADDR", "127.0.0.1"},
                            {"MASTER_PORT", std::to_string(port)},
                            {"PIPESHARD_JOB_TOKEN", token}});
}

TEST(Faults, KillingAMiddleStageStopsTheJobAndNamesIt) {
  Job job(3, 40, 48);
  Proc launcher({pipeshard_bin(), "run", "--plan", job.plan, "--input", job.input, "--output", job.output, "--threads",
                 "1", "--grace-seconds", "2"},
                clean_env(), job.dir.file("launcher"));
  // Mid-run: every rank up and results flowing.
  const auto t0 = Clock::now();
  while (journal_results(job.output + ".journal") < 2 && !launcher.done() && seconds_since(t0) < 60)
    std::this_thread::sleep_for(1ms);
  ASSERT_FALSE(launcher.done()) << "the run ended before the fault:\n" << launcher.err();
  const auto workers = worker_pids(job.plan);
  ASSERT_EQ(workers.size(), 3u);
  ASSERT_EQ(::kill(workers.at(1), SIGKILL), 0);
  const auto killed_at = Clock::now();

  // The launcher notices, stops ranks 0 and 2 and exits within 10 s (far less in practice: the
  // launcher sees the death at once; the others get SIGTERM and 2 s of grace).
  const auto code = launcher.wait_for(10s);
  ASSERT_TRUE(code.has_value()) << "the launcher still runs 10 s after rank 1 was killed";
  EXPECT_EQ(*code, 128 + SIGKILL);
  EXPECT_TRUE(contains(launcher.err(), "pipeshard run: rank 1 was killed by signal 9 (SIGKILL)")) << launcher.err();
  RecordProperty("seconds_to_exit", std::to_string(seconds_since(killed_at)));
  std::printf("launcher exited %.2f s after rank 1 was killed\n", seconds_since(killed_at));
  for (const auto& [rank, pid] : workers) EXPECT_FALSE(alive(pid)) << "rank " << rank << " (pid " << pid << ") survived";
  EXPECT_TRUE(worker_pids(job.plan).empty());
  EXPECT_FALSE(test::file_exists(job.output)) << "a failed run left an output file";
}

TEST(Faults, ARankThatNeverJoinsIsNamedWithinTheDeadline) {
  Job job(2, 2, 2);
  const int port = free_port();
  // Rank 0 of a 2-rank job, alone, with a 2 s deadline.
  Proc rank0(job.worker_args(2), rank_env(0, 2, port, "tok"), job.dir.file("rank0"));
  const auto t0 = Clock::now();
  const auto code = rank0.wait_for(10s);
  ASSERT_TRUE(code.has_value()) << "rank 0 still waits 10 s into a 2 s deadline";
  RecordProperty("seconds_to_exit", std::to_string(seconds_since(t0)));
  std::printf("rank 0 exited %.2f s after it started (deadline 2 s)\n", seconds_since(t0));
  EXPECT_EQ(*code, 1);
  const std::string err = rank0.err();
  EXPECT_TRUE(contains(err, "rendezvous")) << err;
  EXPECT_TRUE(contains(err, "rank 1 of 2 did not join")) << err;
  EXPECT_FALSE(test::file_exists(job.output));
}

TEST(Faults, AWrongJobTokenIsRefused) {
  Job job(2, 2, 2);
  const int port = free_port();
  Proc rank0(job.worker_args(3), rank_env(0, 2, port, "the-right-token"), job.dir.file("rank0"));
  Proc rank1(job.worker_args(3), rank_env(1, 2, port, "a-wrong-token"), job.dir.file("rank1"));
  const auto code1 = rank1.wait_for(15s);
  ASSERT_TRUE(code1.has_value()) << "rank 1 with a wrong token still runs";
  EXPECT_NE(*code1, 0);
  const std::string err1 = rank1.err();
  EXPECT_TRUE(contains(err1, "rank 1")) << err1;
  EXPECT_TRUE(contains(err1, "bad job token")) << err1;
  EXPECT_TRUE(contains(err1, "PIPESHARD_JOB_TOKEN must be the same")) << err1;
  // Rank 0 never lets it in: it logs the refusal, then times out waiting for rank 1.
  const auto code0 = rank0.wait_for(15s);
  ASSERT_TRUE(code0.has_value());
  EXPECT_EQ(*code0, 1);
  const std::string err0 = rank0.err();
  EXPECT_TRUE(contains(err0, "refused connection from 127.0.0.1")) << err0;
  EXPECT_TRUE(contains(err0, "token")) << err0;
  EXPECT_TRUE(contains(err0, "rank 1 of 2 did not join")) << err0;
  EXPECT_FALSE(test::file_exists(job.output));
}

TEST(Faults, AMasterPortInUseIsAClearError) {
  Job job(1, 2, 2);
  HeldPort held;
  ASSERT_TRUE(held.ok());
  Proc rank0(job.worker_args(5), rank_env(0, 1, held.port(), "tok"), job.dir.file("rank0"));
  const auto code = rank0.wait_for(15s);
  ASSERT_TRUE(code.has_value()) << "rank 0 on a taken port still runs";
  EXPECT_NE(*code, 0);
  const std::string err = rank0.err();
  EXPECT_TRUE(contains(err, "127.0.0.1:" + std::to_string(held.port()))) << err;
  EXPECT_TRUE(contains(err, "already in use")) << err;
  EXPECT_FALSE(test::file_exists(job.output));
}

// A --metrics-dir that cannot be made is refused before any work (it once killed rank 0 with
// SIGABRT after the whole run: a joinable collector thread was destroyed on the error path).
TEST(Faults, AnUnusableMetricsDirIsRefusedBeforeTheRun) {
  Job job(2, 6, 4);
  const std::string blocker = job.dir.file("a-file");
  test::write_text(blocker, "not a folder");
  const std::string bad = blocker + "/metrics";
  auto r = pipeshard({"run", "--plan", job.plan, "--input", job.input, "--output", job.output, "--metrics-dir", bad},
                     job.dir.file("metrics"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(contains(r.err, "SIGABRT")) << r.err;
  EXPECT_TRUE(contains(r.err, "--metrics-dir: " + bad)) << r.err;
  EXPECT_FALSE(test::file_exists(job.output));
  EXPECT_FALSE(test::file_exists(job.output + ".journal"));
  // A folder that does not exist yet is made.
  const std::string fresh = job.dir.file("new/metrics");
  r = pipeshard({"run", "--plan", job.plan, "--input", job.input, "--output", job.output, "--metrics-dir", fresh},
                job.dir.file("fresh"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(test::file_exists(fresh + "/rank0.json"));
  EXPECT_TRUE(test::file_exists(fresh + "/rank1.json"));
}

}  // namespace
}  // namespace ps::integ
