// Strict JSON at the level of the real binary: a NUL, a key given twice, or bytes after the value
// in a file we read are exit 2 naming the file (and line, for JSON Lines), never a silently shorter
// reading with exit 0.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace ps::test {
namespace {

std::string src(const std::string& rel) { return std::string(PIPESHARD_SOURCE_DIR) + "/" + rel; }

void expect_refused(const CommandResult& r, const std::vector<std::string>& mentions) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  for (const auto& m : mentions) EXPECT_NE(r.err.find(m), std::string::npos) << "no '" << m << "' in: " << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(StrictJsonCli, RequestFileWithANulBetweenTwoLinesNamesFileAndLine) {
  TempDir dir;
  const std::string model = dir.file("m");
  const CommandResult made = run_pipeshard(
      {"make-model", "--family", "llama", "--preset", "tiny", "--dtype", "f32", "--seed", "1", "--out", model});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string requests = dir.file("requests.jsonl");
  const std::string output = dir.file("out.jsonl");
  // Today's reading of line 1 stopped at the NUL and dropped request "b" with exit 0.
  write_text(requests, std::string("{\"id\": \"a\", \"prompt_ids\": [1]}\n") + '\0' + "{\"id\": \"b\", \"prompt_ids\": [2]}\n");
  expect_refused(run_pipeshard({"generate", "--model", model, "--input", requests, "--output", output, "--threads", "1",
                                "--max-new-tokens", "1"}),
                 {requests + ": line 2: not valid JSON: byte 0: a NUL byte"});
  EXPECT_FALSE(file_exists(output));
  // The control: the same lines without the NUL run.
  write_text(requests, "{\"id\": \"a\", \"prompt_ids\": [1]}\n{\"id\": 18446744073709551615, \"prompt_ids\": [2]}\n");
  const CommandResult ok = run_pipeshard({"generate", "--model", model, "--input", requests, "--output", output,
                                          "--threads", "1", "--max-new-tokens", "1"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(read_text(output).find("\"id\":\"18446744073709551615\""), std::string::npos) << read_text(output);
}

TEST(StrictJsonCli, PlanWithStagesTwiceNamesTheKey) {
  TempDir dir;
  const std::string plan = dir.file("plan.json");
  const std::string stage = "[{\"layers\": \"0-47\", \"device\": \"cuda:0\"}]";
  write_text(plan, "{\"model\": \"" + src("configs/models/gpt2-xl") + "\", \"stages\": " + stage + ", \"stages\": " + stage + "}");
  expect_refused(run_pipeshard({"plan", "--check", plan}), {plan + ": stages: key appears twice in one object"});
}

TEST(StrictJsonCli, ConfigWithTrailingGarbageNamesFileAndOffset) {
  TempDir dir;
  const std::string model = dir.file("m");
  const std::string config = read_text(src("configs/models/gpt2-xl/config.json"));
  std::filesystem::create_directory(model);
  write_text(model + "/config.json", config + "\n{\"garbage\": 1}");
  const std::string plan = dir.file("plan.json");
  write_text(plan, "{\"model\": \"" + model + "\", \"stages\": [{\"layers\": \"0-47\", \"device\": \"cuda:0\"}]}");
  expect_refused(run_pipeshard({"plan", "--check", plan}),
                 {model + "/config.json: not valid JSON: byte " + std::to_string(config.size() + 1), "expected end of input"});
  // A NUL with garbage after it, which used to end the reading quietly.
  write_text(model + "/config.json", config + std::string(1, '\0') + "garbage");
  expect_refused(run_pipeshard({"plan", "--check", plan}),
                 {model + "/config.json: not valid JSON: byte " + std::to_string(config.size()) + ": a NUL byte"});
}

}  // namespace
}  // namespace ps::test
