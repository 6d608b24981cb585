// `pipeshard make-model` as a user runs it: the real binary, real files, exit statuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "support/test_support.h"

namespace ps {
namespace {

using test::run_pipeshard;

TEST(MakeModelCli, WritesAFolderThatLoads) {
  test::TempDir tmp;
  const std::string out = tmp.file("tiny");
  const auto r = run_pipeshard({"make-model", "--family", "llama", "--preset", "tiny", "--dtype", "bf16", "--seed", "4",
                                "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("family=llama"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("params=250432"), std::string::npos) << r.out;  // see make_model_test's formula
  EXPECT_NE(r.out.find("bytes=500864"), std::string::npos) << r.out;   // bf16: 2 bytes each
  EXPECT_TRUE(test::file_exists(out + "/config.json"));
  EXPECT_TRUE(test::file_exists(out + "/model.safetensors"));
  const auto config = nlohmann::json::parse(test::read_text(out + "/config.json"));
  EXPECT_EQ(config.at("torch_dtype"), "bfloat16");
  EXPECT_EQ(config.at("architectures").at(0), "LlamaForCausalLM");
  EXPECT_EQ(config.at("num_key_value_heads"), 2);
}

TEST(MakeModelCli, ShardsWithIndex) {
  test::TempDir tmp;
  const std::string out = tmp.file("g");
  const auto r = run_pipeshard({"make-model", "--family", "gpt2", "--layers", "2", "--shard-size", "100KB", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(test::file_exists(out + "/model.safetensors"));
  const auto index = nlohmann::json::parse(test::read_text(out + "/model.safetensors.index.json"));
  // Every shard the index names exists, and nothing else was written.
  std::set<std::string> shards;
  for (const auto& [name, file] : index.at("weight_map").items()) shards.insert(file.get<std::string>());
  EXPECT_GT(shards.size(), 1u);
  const std::string n = std::to_string(shards.size());
  EXPECT_TRUE(shards.count("model-00001-of-" + std::string(5 - n.size(), '0') + n + ".safetensors"));
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(out)) {
    const std::string f = e.path().filename().string();
    EXPECT_TRUE(shards.count(f) || f == "config.json" || f == "model.safetensors.index.json") << f;
    ++files;
  }
  EXPECT_EQ(files, shards.size() + 2);
}

TEST(MakeModelCli, BadFamilyIsExit2) {
  test::TempDir tmp;
  const auto r = run_pipeshard({"make-model", "--family", "bert", "--out", tmp.file("x")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--family: 'bert' is not a model family (llama, gpt2, mlp)"), std::string::npos) << r.err;
  EXPECT_FALSE(test::file_exists(tmp.file("x")));
}

TEST(MakeModelCli, BadOptionValueIsExit2) {
  test::TempDir tmp;
  const auto r = run_pipeshard({"make-model", "--family", "llama", "--heads", "5", "--out", tmp.file("x")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--heads: 5 does not divide the hidden size 64"), std::string::npos) << r.err;
  const auto s = run_pipeshard({"make-model", "--family", "llama", "--shard-size", "12XB", "--out", tmp.file("x")});
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_NE(s.err.find("--shard-size"), std::string::npos) << s.err;
  EXPECT_FALSE(test::file_exists(tmp.file("x")));
}

TEST(MakeModelCli, ExistingNonEmptyOutIsExit2) {
  test::TempDir tmp;
  const std::string out = tmp.file("out");
  std::filesystem::create_directory(out);
  test::write_text(out + "/notes.txt", "keep me");
  const auto r = run_pipeshard({"make-model", "--family", "mlp", "--out", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("exists and is not empty"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_text(out + "/notes.txt"), "keep me");
  EXPECT_FALSE(test::file_exists(out + "/config.json"));
  const auto forced = run_pipeshard({"make-model", "--family", "mlp", "--force", "--out", out});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(test::file_exists(out + "/config.json"));
  EXPECT_FALSE(test::file_exists(out + "/notes.txt"));
}

}  // namespace
}  // namespace ps
