// The pipeline computes what one process computes (docs/DESIGN.md, "Invariants the tests hold"):
//  - 1, 2, 3 and 4 stages x M in {1, 2, 4, 8} on llama and gpt2, forward and generate: the output
//    file is byte-identical to the one-stage `pipeshard run` with the same batch and M;
//  - greedy tokens are identical for every split: each generate output equals single-process
//    `pipeshard generate --slots 8` byte for byte (so every M agrees), and each forward output's
//    next tokens equal single-process `pipeshard forward`'s, log-probabilities within 1e-4;
//  - a request in a batch of mixed lengths, max_new_tokens and stop ids gets the tokens it gets
//    alone;
//  - 2 replicas x 2 stages: merged output identical to 2 replicas of one stage, in input order.
// Every run is real: `pipeshard run` starting one worker process per rank over loopback sockets.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "integration/integration_util.h"

namespace ps::integ {
namespace {

constexpr int kBatch = 8;
constexpr int kPlanMaxNew = 8;  // the plan's max_new_tokens, for the requests without their own

// One family's model and requests in a fresh directory.
struct FamilyRun {
  test::TempDir dir;
  std::string family;
  std::string requests;  // path
  std::vector<Json> lines;

  explicit FamilyRun(const std::string& fam) : family(fam) {
    make_model(dir.path(), family);
    lines = requests_with_stops();
    requests = dir.file("requests.jsonl");
    write_jsonl(requests, lines);
  }

  // 12 requests: more than the 8 slots, so finished sequences hand their slots to waiting ones;
  // prompts of 1..12 tokens, max_new_tokens 0..10 or the plan's. Every third gets stop ids that
  // do occur: its own third greedy token (found by a run without stops) and one it never makes.
  std::vector<Json> requests_with_stops() {
    std::vector<Json> reqs = mixed_requests(12, 12, 10, 7);
    reqs[5]["max_new_tokens"] = 0;
    const std::string plain = dir.file("plain.jsonl"), plain_out = dir.file("plain.out.jsonl");
    write_jsonl(plain, reqs);
    const auto r = pipeshard({"generate", "--model", dir.file(family), "--slots", "8", "--max-new-tokens",
                              std::to_string(kPlanMaxNew), "--input", plain, "--output", plain_out},
                             dir.file("plain-generate"));
    if (r.exit_code != 0) throw std::runtime_error("generate failed: " + r.err);
    const auto outs = read_jsonl(plain_out);
    for (size_t i = 1; i < reqs.size(); i += 3) {
      const auto ids = outs.at(i).at("output_ids").get<std::vector<int>>();
      if (ids.size() < 3) continue;
      int never = 0;
      while (std::find(ids.begin(), ids.end(), never) != ids.end()) ++never;
      reqs[i]["stop_ids"] = {never, ids[2]};
    }
    return reqs;
  }

  // `pipeshard run` on a plan of `p` (the one-stage plan when p.stages == 1); returns the output.
  std::string run(const PlanSpec& p, const std::string& input = "", const std::string& tag = "") {
    const std::string name = p.mode + "-P" + std::to_string(p.stages) + "-M" + std::to_string(p.micro_batches) + "-R" +
                             std::to_string(p.replicas) + tag;
    PlanSpec spec = p;
    spec.model = family;
    const std::string plan = write_plan(dir.file(name + ".plan.json"), spec);
    const std::string out = dir.file(name + ".out.jsonl");
    const auto r = pipeshard({"run", "--plan", plan, "--input", input.empty() ? requests : input, "--output", out},
                             dir.file(name));
    EXPECT_EQ(r.exit_code, 0) << name << ":\n" << r.err;
    EXPECT_FALSE(test::file_exists(out + ".journal")) << name << ": the journal outlived a finished run";
    return test::file_exists(out) ? test::read_text(out) : "";
  }

  // Single-process reference: `pipeshard generate --slots 8` or `pipeshard forward --batch 8`.
  std::string single_process(const std::string& mode) {
    const std::string out = dir.file(mode + "-single.out.jsonl");
    std::vector<std::string> args = {mode, "--model", dir.file(family), "--input", requests, "--output", out};
    if (mode == "generate") {
      args.insert(args.end(), {"--slots", "8", "--max-new-tokens", std::to_string(kPlanMaxNew)});
    } else {
      args.insert(args.end(), {"--batch", "8"});
    }
    const auto r = pipeshard(args, dir.file(mode + "-single"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return test::read_text(out);
  }
};

PlanSpec plan_of(const std::string& mode, int stages, int m, int replicas = 1) {
  PlanSpec p;
  p.mode = mode;
  p.stages = stages;
  p.batch = kBatch;
  p.micro_batches = m;
  p.replicas = replicas;
  p.max_new_tokens = kPlanMaxNew;
  return p;
}

std::vector<Json> parse_lines(const std::string& text) {
  std::vector<Json> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(Json::parse(line));
  return out;
}

// Forward results agree on every request's next token and top ids; log-probabilities within tol.
void expect_same_tokens(const std::string& got_text, const std::string& want_text, double tol) {
  const auto got = parse_lines(got_text), want = parse_lines(want_text);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].at("id"), want[i].at("id"));
    EXPECT_EQ(got[i].at("next_token"), want[i].at("next_token")) << "request " << i;
    const auto& a = got[i].at("top_logprobs");
    const auto& b = want[i].at("top_logprobs");
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k][0], b[k][0]) << "request " << i << " top " << k;
      EXPECT_NEAR(a[k][1].get<double>(), b[k][1].get<double>(), tol) << "request " << i << " top " << k;
    }
  }
}

using MatrixParam = std::tuple<std::string, std::string, int>;  // family, mode, M

class StageSplits : public ::testing::TestWithParam<MatrixParam> {};

TEST_P(StageSplits, EveryStageCountGivesTheOneStageBytes) {
  const auto& [family, mode, m] = GetParam();
  FamilyRun s(family);
  const std::string one = s.run(plan_of(mode, 1, m));
  ASSERT_FALSE(one.empty());
  ASSERT_EQ(parse_lines(one).size(), s.lines.size());
  for (int stages = 2; stages <= 4; ++stages) EXPECT_EQ(s.run(plan_of(mode, stages, m)), one) << stages << " stages";

  // The same tokens as one process, whatever the micro-batching.
  const std::string single = s.single_process(mode);
  if (mode == "generate") {
    EXPECT_EQ(one, single);
    // The requests exercise what they claim to: stops, lengths, an empty generation.
    EXPECT_TRUE(contains(one, "\"finish_reason\":\"stop\"")) << one;
    EXPECT_TRUE(contains(one, "\"finish_reason\":\"length\"")) << one;
    EXPECT_TRUE(contains(one, "\"output_ids\":[]")) << one;
  } else {
    expect_same_tokens(one, single, 1e-4);
  }
}

std::string matrix_name(const ::testing::TestParamInfo<MatrixParam>& info) {
  return std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_M" + std::to_string(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Matrix, StageSplits,
                         ::testing::Combine(::testing::Values("llama", "gpt2"), ::testing::Values("forward", "generate"),
                                            ::testing::Values(1, 2, 4, 8)),
                         matrix_name);

class PerFamily : public ::testing::TestWithParam<std::string> {};

// Continuous batching must not leak between sequences: each request of the mixed batch gets,
// through a 2-stage pipeline, the very line it gets when it is the only request.
TEST_P(PerFamily, EachRequestGetsWhatItGetsAlone) {
  FamilyRun s(GetParam());
  const auto together = parse_lines(s.run(plan_of("generate", 2, 2)));
  ASSERT_EQ(together.size(), s.lines.size());
  for (size_t i = 0; i < s.lines.size(); ++i) {
    const std::string alone_in = s.dir.file("alone" + std::to_string(i) + ".jsonl");
    write_jsonl(alone_in, std::vector<Json>{s.lines[i]});
    const std::string alone = s.run(plan_of("generate", 2, 2), alone_in, "-alone" + std::to_string(i));
    EXPECT_EQ(alone, together[i].dump() + "\n") << "request " << i << ": " << s.lines[i].dump();
  }
}

// R = 2 replicas of P = 2 stages: replica r runs requests r, r + 2, ...; rank 0 merges them in
// input order. Bit-identical to 2 replicas of one stage (the same micro-batches); against one
// replica the micro-batches hold other requests, so the tokens agree (forward: log-probabilities
// within 1e-4; generate files hold only tokens, so they are identical too).
TEST_P(PerFamily, TwoReplicasOfTwoStagesMergeInInputOrder) {
  FamilyRun s(GetParam());
  for (const std::string mode : {"forward", "generate"}) {
    const std::string replicated = s.run(plan_of(mode, 2, 2, 2));
    EXPECT_EQ(replicated, s.run(plan_of(mode, 1, 2, 2))) << mode;
    const std::string one = s.run(plan_of(mode, 1, 2));
    if (mode == "generate") {
      EXPECT_EQ(replicated, one);
    } else {
      expect_same_tokens(replicated, one, 1e-4);
    }
    const auto lines = parse_lines(replicated);
    ASSERT_EQ(lines.size(), s.lines.size()) << mode;
    for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i].at("id"), s.lines[i].at("id")) << mode;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, PerFamily, ::testing::Values("llama", "gpt2"));

}  // namespace
}  // namespace ps::integ
