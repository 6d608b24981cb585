// Special files where a regular file is read, at the level of the real binary: a FIFO (which
// blocked the open for ever before), /dev/zero (which was read until memory ran out) and an
// oversized config must each end at once with exit 2 naming the file and what is wrong with it.
// Every command runs under a 5 s deadline (run_pipeshard kills it and fails the test), so a
// regression hangs no ctest; each also asserts its own wall time.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace ps {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::CommandResult;

constexpr int kDeadlineS = 5;

test::TempDir& models_root() {
  static test::TempDir root;
  return root;
}

// A tiny llama made once per binary run (`sharded`: several shards plus the index).
const std::string& pristine(bool sharded) {
  static std::string made[2];
  std::string& dir = made[sharded ? 1 : 0];
  if (!dir.empty()) return dir;
  dir = models_root().file(sharded ? "sharded" : "single");
  std::vector<std::string> args = {"make-model", "--family", "llama", "--preset", "tiny", "--dtype", "f32",
                                   "--seed",     "1",        "--out",  dir};
  // A third of the single file's size: several shards whatever the tiny preset's dims are.
  if (sharded)
    args.insert(args.end(), {"--shard-size", std::to_string(fs::file_size(pristine(false) + "/model.safetensors") / 3)});
  const CommandResult r = test::run_pipeshard(args);
  if (r.exit_code != 0) ADD_FAILURE() << "make-model: " << r.err;
  return dir;
}

class SpecialFiles : public ::testing::Test {
 protected:
  test::TempDir tmp;
  std::string model, requests, output;

  void SetUp() override {
    requests = tmp.file("requests.jsonl");
    output = tmp.file("results.jsonl");
    test::write_text(requests, "{\"id\": \"a\", \"prompt_ids\": [1, 2, 3]}\n");
    use_model(false);
  }

  void use_model(bool sharded) {
    model = tmp.file(sharded ? "model-sharded" : "model");
    fs::remove_all(model);
    fs::copy(pristine(sharded), model, fs::copy_options::recursive);
  }

  // Replaces `path` by a FIFO that nobody ever writes to.
  static void make_fifo(const std::string& path) {
    fs::remove(path);
    ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0) << path;
  }

  struct Timed {
    CommandResult r;
    double seconds;
  };
  static Timed pipeshard(const std::vector<std::string>& args) {
    const auto t0 = std::chrono::steady_clock::now();
    CommandResult r = test::run_pipeshard(args, kDeadlineS);
    return {std::move(r), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
  }
  Timed forward() {
    return pipeshard({"forward", "--model", model, "--input", requests, "--output", output, "--threads", "1"});
  }

  void expect_refused(const Timed& t, const std::vector<std::string>& mentions) {
    SCOPED_TRACE("stderr was: " + t.r.err);
    EXPECT_EQ(t.r.exit_code, 2);
    EXPECT_LT(t.seconds, kDeadlineS);
    for (const auto& m : mentions) EXPECT_NE(t.r.err.find(m), std::string::npos) << "the message does not name '" << m << "'";
    EXPECT_FALSE(test::file_exists(output)) << "an output was written";
  }
};

TEST_F(SpecialFiles, FifoAsModelSafetensors) {
  make_fifo(model + "/model.safetensors");
  expect_refused(forward(), {model + "/model.safetensors", "is a FIFO"});
}

TEST_F(SpecialFiles, FifoAsOneShard) {
  use_model(true);
  std::string shard;
  for (const auto& e : fs::directory_iterator(model)) {
    const std::string name = e.path().filename().string();
    if (name.find("-of-") != std::string::npos && name.ends_with(".safetensors")) shard = e.path().string();
  }
  ASSERT_FALSE(shard.empty()) << "make-model --shard-size wrote no shard";
  ASSERT_FALSE(test::file_exists(model + "/model.safetensors"));
  make_fifo(shard);
  expect_refused(forward(), {shard, "is a FIFO"});
}

TEST_F(SpecialFiles, FifoAsIndex) {
  use_model(true);
  make_fifo(model + "/model.safetensors.index.json");
  expect_refused(forward(), {"model.safetensors.index.json", "is a FIFO"});
}

TEST_F(SpecialFiles, FifoAsConfig) {
  make_fifo(model + "/config.json");
  expect_refused(forward(), {model + "/config.json", "is a FIFO"});
}

TEST_F(SpecialFiles, FifoAsRequestFile) {
  make_fifo(requests);
  expect_refused(forward(), {requests, "is a FIFO"});
}

TEST_F(SpecialFiles, DirectoryAsRequestFile) {
  fs::remove(requests);
  fs::create_directory(requests);
  expect_refused(forward(), {requests, "is a directory"});
}

TEST_F(SpecialFiles, DevZeroAsConfig) {
  fs::remove(model + "/config.json");
  fs::create_symlink("/dev/zero", model + "/config.json");
  expect_refused(forward(), {model + "/config.json", "is a character device"});
}

TEST_F(SpecialFiles, OversizedConfig) {
  // A sparse 17 MiB file: refused from its size, before a byte is read.
  fs::resize_file(model + "/config.json", (uint64_t{17} << 20));
  expect_refused(forward(), {model + "/config.json", "17825792 bytes", "16 MiB cap for a JSON file"});
}

TEST_F(SpecialFiles, SymlinkToARegularConfigStillWorks) {
  const std::string real = tmp.file("config-elsewhere.json");
  fs::rename(model + "/config.json", real);
  fs::create_symlink(real, model + "/config.json");
  const Timed t = forward();
  EXPECT_EQ(t.r.exit_code, 0) << t.r.err;
  EXPECT_TRUE(test::file_exists(output));
}

// `run --plan`: the plan itself a FIFO, and a plan whose model has a FIFO config.json.
class SpecialFilesPlan : public SpecialFiles {
 protected:
  std::string write_plan() {
    const json cfg = json::parse(test::read_text(model + "/config.json"));
    // Plan layers count the embedding and the head too: blocks + 2.
    const int64_t layers = cfg.at("num_hidden_layers").get<int64_t>() + 2;
    const json plan = {{"model", model},
                       {"workload", {{"mode", "forward"}}},
                       {"stages", json::array({{{"layers", "0-" + std::to_string(layers - 1)},
                                                {"device", "cpu"},
                                                {"threads", 1}}})}};
    const std::string path = tmp.file("plan.json");
    test::write_text(path, plan.dump(2) + "\n");
    return path;
  }
  Timed run(const std::string& plan) {
    return pipeshard({"run", "--plan", plan, "--input", requests, "--output", output, "--timeout-seconds", "5"});
  }
};

TEST_F(SpecialFilesPlan, FifoAsPlan) {
  const std::string plan = tmp.file("plan.json");
  make_fifo(plan);
  expect_refused(run(plan), {plan, "is a FIFO"});
  const Timed check = pipeshard({"plan", "--check", plan});
  EXPECT_EQ(check.r.exit_code, 2) << check.r.err;
  EXPECT_NE(check.r.err.find(plan + ": is a FIFO"), std::string::npos) << check.r.err;
}

TEST_F(SpecialFilesPlan, FifoConfigInThePlansModel) {
  const std::string plan = write_plan();
  make_fifo(model + "/config.json");
  expect_refused(run(plan), {model + "/config.json", "is a FIFO"});
}

TEST_F(SpecialFilesPlan, ControlThePlanRuns) {
  const Timed t = run(write_plan());
  EXPECT_EQ(t.r.exit_code, 0) << t.r.err;
  EXPECT_TRUE(test::file_exists(output));
}

}  // namespace
}  // namespace ps
