// `pipeshard run --resume` after a run that was killed half-way: the killed run leaves its journal
// and no output; the resumed run computes only the requests the journal lacks and writes the
// output an uninterrupted run writes.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "integration/integration_util.h"

namespace ps::integ {
namespace {

// Rows the first stage forwards for request i: its prompt, then each generated token but the
// last (which ends the sequence without going through the model).
int64_t rows_of(const Json& request, const Json& result) {
  return static_cast<int64_t>(request.at("prompt_ids").size() + result.at("output_ids").size()) - 1;
}

// Forward rows in rank 0's metrics (every row the first stage computed).
int64_t forward_rows(const std::string& metrics_dir) {
  const Json m = Json::parse(test::read_text(metrics_dir + "/rank0.json"));
  int64_t rows = 0;
  for (const auto& e : m.at("events"))
    if (e.at("op") == "F") rows += e.at("rows").get<int64_t>();
  return rows;
}

TEST(Resume, AKilledRunResumesToTheUninterruptedOutput) {
  test::TempDir dir;
  make_model(dir.path(), "llama");
  // 40 requests x 48 tokens through 3 stages of one thread, 2 slots per micro-batch group: a few
  // hundred rounds, long enough to kill it after its first results.
  std::vector<Json> reqs = mixed_requests(40, 12, 1, 11);
  for (auto& r : reqs) r["max_new_tokens"] = 48;
  const std::string input = dir.file("requests.jsonl");
  write_jsonl(input, reqs);
  PlanSpec p;
  p.model = "llama";
  p.stages = 3;
  p.batch = 4;
  p.micro_batches = 2;
  const std::string plan = write_plan(dir.file("resume.plan.json"), p);
  const std::string out = dir.file("out.jsonl"), journal = out + ".journal";
  std::filesystem::create_directories(dir.file("metrics-full"));
  std::filesystem::create_directories(dir.file("metrics-resumed"));
  const std::vector<std::string> run = {"run", "--plan", plan, "--input", input, "--output", out, "--threads", "1"};

  {
    std::vector<std::string> argv = {pipeshard_bin()};
    argv.insert(argv.end(), run.begin(), run.end());
    Proc launcher(argv, clean_env(), dir.file("killed"));
    const auto t0 = Clock::now();
    while (journal_results(journal) < 4 && !launcher.done() && seconds_since(t0) < 60)
      std::this_thread::sleep_for(1ms);
    ASSERT_FALSE(launcher.done()) << "the run ended before it could be killed:\n" << launcher.err();
    const auto workers = worker_pids(plan);
    EXPECT_EQ(workers.size(), 3u);
    launcher.kill_group(SIGKILL);  // the launcher alone: its workers die with it (PR_SET_PDEATHSIG)
    EXPECT_EQ(launcher.wait(10s), 128 + SIGKILL);
    for (const auto& [rank, pid] : workers) {
      const auto t1 = Clock::now();
      while (alive(pid) && seconds_since(t1) < 10) std::this_thread::sleep_for(5ms);
      EXPECT_FALSE(alive(pid)) << "rank " << rank << " (pid " << pid << ") outlived its launcher";
    }
  }
  ASSERT_FALSE(test::file_exists(out)) << "a killed run left an output file";
  ASSERT_TRUE(test::file_exists(journal));
  const size_t journaled = journal_results(journal);
  ASSERT_GE(journaled, 4u);
  ASSERT_LT(journaled, reqs.size());
  std::set<int> done;
  for (const auto& line : read_jsonl(journal))
    if (line.contains("i")) done.insert(line.at("i").get<int>());
  ASSERT_EQ(done.size(), journaled) << "a request journaled twice";
  std::printf("killed with %zu of %zu results journaled\n", journaled, reqs.size());

  std::vector<std::string> resume = run;
  resume.insert(resume.end(), {"--resume", "--metrics-dir", dir.file("metrics-resumed")});
  auto r = pipeshard(resume, dir.file("resumed"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string resumed = test::read_text(out);
  EXPECT_FALSE(test::file_exists(journal)) << "the journal outlived a finished run";

  // The uninterrupted run, to another file.
  const std::string full_out = dir.file("full.jsonl");
  r = pipeshard({"run", "--plan", plan, "--input", input, "--output", full_out, "--threads", "1", "--metrics-dir",
                 dir.file("metrics-full")},
                dir.file("full"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(resumed, test::read_text(full_out));

  // The resumed run computed exactly the requests missing from the journal: its first stage
  // forwarded their rows and no others (the uninterrupted run, all of them).
  const auto results = read_jsonl(full_out);
  ASSERT_EQ(results.size(), reqs.size());
  int64_t all_rows = 0, missing_rows = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    all_rows += rows_of(reqs[i], results[i]);
    if (!done.count(static_cast<int>(i))) missing_rows += rows_of(reqs[i], results[i]);
  }
  EXPECT_EQ(forward_rows(dir.file("metrics-full")), all_rows);
  EXPECT_EQ(forward_rows(dir.file("metrics-resumed")), missing_rows);
}

}  // namespace
}  // namespace ps::integ
