// The hostile-input table (cases.json here): every file a user hands pipeshard -- checkpoint
// (safetensors, sharded index), config.json, plan, cluster spec, request JSON Lines, profile --
// broken one way at a time, run through the real binary. Each "cases" row must end as docs/DESIGN.md
// promises for bad input: no signal (no crash), no hang (a deadline), exit status 2, an error line
// naming the file and the field, and nothing written (out/ stays empty). Each "controls" row runs
// the unbroken files and must succeed, so that no rejection can come from a base file that was
// never valid.
//
// A row: {"name": gtest name, "file": which user file it breaks (for reading the table),
//         "base": "llama" | "gpt2" | "mlp" | "llama-sharded" (make-model --preset tiny; default llama),
//         "mutate": [ops of hostile_files.h], "run": pipeshard's argv, "expect": substrings of stderr,
//         "timeout_s": optional deadline (default 60)}.
// Placeholders in "mutate", "run" and "expect": {model} {requests} {plan} {cluster} {profile}
// {out_dir} {output} (paths), {vocab} {context} {width} (mlp input size) {last_layer} {mid}
// {mid_prev} (the default plan splits at {mid}), {shard} (a sharded checkpoint's first shard file),
// and {tensor} {other} (the full names an st_* op resolved). HOSTILE_SHOW=1 prints every message.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "hostile/hostile_files.h"
#include "support/test_support.h"

namespace ps::hostile {
namespace {

struct Row {
  std::string name;
  json spec;               // the row as written
  std::string load_error;  // non-empty: the table itself could not be read
};
void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

std::string table_path() { return std::string(PIPESHARD_SOURCE_DIR) + "/tests/hostile/cases.json"; }

// Read while the test suites are instantiated, so a broken table must not throw: it becomes one
// row that fails with the reason.
std::vector<Row> load_rows(const char* section) {
  try {
    const json table = json::parse(test::read_text(table_path()));
    std::vector<Row> rows;
    for (const json& r : table.at(section)) rows.push_back({r.at("name").get<std::string>(), r, ""});
    return rows;
  } catch (const std::exception& e) {
    return {{"TableUnreadable", json(), table_path() + ": " + e.what()}};
  }
}

// ---- pristine models: made once per test process, copied per case -----------------------------

struct Pristine {
  std::string dir;  // empty when make-model failed
  std::string why;
};

const Pristine& pristine(const std::string& base) {
  static test::TempDir root;
  static std::map<std::string, Pristine> made;
  if (const auto it = made.find(base); it != made.end()) return it->second;
  const std::string family = base == "llama-sharded" ? "llama" : base;
  Pristine p{root.file(base), ""};
  std::vector<std::string> args = {"make-model", "--family", family, "--preset", "tiny", "--dtype", "f32",
                                   "--seed",     "1",        "--out",  p.dir};
  // Shards of a third of the tiny llama's weights: several shards and an index.
  if (base == "llama-sharded") {
    const Pristine& single = pristine("llama");
    if (single.dir.empty()) return made.emplace(base, single).first->second;
    const auto size = fs::file_size(single.dir + "/model.safetensors");
    args.insert(args.end(), {"--shard-size", std::to_string(size / 3)});
  }
  const test::CommandResult r = test::run_pipeshard(args);
  if (r.exit_code != 0 || !test::file_exists(p.dir + "/config.json")) {
    p.why = "make-model " + base + " exit " + std::to_string(r.exit_code) + ": " + r.err;
    p.dir.clear();
  }
  return made.emplace(base, p).first->second;
}

// ---- the valid files around a model -------------------------------------------------------------

std::vector<std::string> layer_names(const json& config) {
  std::vector<std::string> names;
  if (config.at("model_type") == "mlp") {
    const json& layers = config.at("layers");
    for (size_t i = 0; i < layers.size(); ++i) names.push_back(layers[i].at("type").get<std::string>() + "." + std::to_string(i));
    return names;
  }
  const int64_t blocks = config.contains("n_layer") ? config.at("n_layer").get<int64_t>() : config.at("num_hidden_layers").get<int64_t>();
  names.push_back("embedding");
  for (int64_t b = 0; b < blocks; ++b) names.push_back("block." + std::to_string(b));
  names.push_back("head");
  return names;
}

// One CPU, one node; its "model" is what the profile names, so the profile applies to it.
json default_cluster() {
  return json::parse(R"({"name": "hostile-test", "nodes": [{"name": "node0", "devices": [
      {"device": "cpu", "model": "cpu-test", "cores": 2, "memory_gib": 8, "reserved_gib": 1,
       "peak_tflops": {"f32": 0.1}, "memory_bandwidth_gb_s": 10}],
      "same_device_link": {"bandwidth_gb_s": 2, "latency_us": 30}}]})");
}

json default_profile(const json& config, const std::vector<std::string>& names) {
  json layers = json::array();
  for (const auto& n : names) layers.push_back({{"name", n}, {"pass_s", 1e-4}});
  return {{"format", "pipeshard-profile"}, {"version", 1}, {"model_type", config.at("model_type")},
          {"device", "cpu"},  {"device_model", "cpu-test"}, {"threads", 1}, {"dtype", "f32"},
          {"measurements", json::array({{{"mode", "forward"}, {"micro_batch", 1}, {"prompt_len", 8}, {"layers", layers}}})}};
}

class HostileInput : public ::testing::TestWithParam<Row> {
 protected:
  test::TempDir tmp;
  std::map<std::string, std::string> vars;

  // Copies the base model and writes the valid requests, plan, cluster spec and profile.
  void make_files(const std::string& base) {
    const Pristine& p = pristine(base);
    ASSERT_FALSE(p.dir.empty()) << p.why;
    const std::string model = tmp.file("model");
    fs::copy(p.dir, model, fs::copy_options::recursive);
    const json config = json::parse(test::read_text(model + "/config.json"));
    const std::vector<std::string> names = layer_names(config);
    const bool mlp = config.at("model_type") == "mlp";
    const size_t n = names.size(), mid = n / 2;
    vars = {{"dir", tmp.path()},
            {"model", model},
            {"requests", tmp.file("requests.jsonl")},
            {"plan", tmp.file("plan.json")},
            {"cluster", tmp.file("cluster.json")},
            {"profile", tmp.file("profile.json")},
            {"out_dir", tmp.file("out")},
            {"output", tmp.file("out") + "/result"},
            {"last_layer", std::to_string(n - 1)},
            {"mid", std::to_string(mid)},
            {"mid_prev", std::to_string(mid - 1)}};
    fs::create_directory(vars["out_dir"]);
    // A sharded checkpoint's first shard file, by name (it holds the embedding, not the final norm).
    if (test::file_exists(model + "/model.safetensors.index.json")) {
      const json index = json::parse(test::read_text(model + "/model.safetensors.index.json"));
      std::string first;
      for (const auto& [tensor, file] : index.at("weight_map").items())
        if (first.empty() || file.get<std::string>() < first) first = file.get<std::string>();
      vars["shard"] = first;
    }
    if (mlp) {
      const int64_t width = config.at("input_size").get<int64_t>();
      vars["width"] = std::to_string(width);
      json in = json::array();
      for (int64_t i = 0; i < width; ++i) in.push_back(0.25 * static_cast<double>(i % 5) - 0.5);
      test::write_text(vars["requests"], json{{"id", "a"}, {"input", in}}.dump() + "\n" + json{{"id", "b"}, {"input", in}}.dump() + "\n");
    } else {
      vars["vocab"] = std::to_string(config.at("vocab_size").get<int64_t>());
      vars["context"] = std::to_string(config.contains("n_positions") ? config.at("n_positions").get<int64_t>()
                                                                      : config.at("max_position_embeddings").get<int64_t>());
      test::write_text(vars["requests"], "{\"id\": \"a\", \"prompt_ids\": [1, 2, 3]}\n{\"id\": \"b\", \"prompt_ids\": [4, 5, 6, 7]}\n");
    }
    const json plan = {{"model", "model"}, {"batch", 1}, {"micro_batches", 1}, {"workload", {{"mode", "forward"}, {"prompt_len", 8}}},
                       {"stages", json::array({{{"layers", "0-" + vars["mid_prev"]}, {"device", "cpu"}},
                                               {{"layers", vars["mid"] + "-" + vars["last_layer"]}, {"device", "cpu"}}})}};
    test::write_text(vars["plan"], plan.dump(2));
    test::write_text(vars["cluster"], default_cluster().dump(2));
    test::write_text(vars["profile"], default_profile(config, names).dump(2));
  }

  test::CommandResult run_row(const json& row) {
    std::vector<std::string> args;
    for (const json& a : row.at("run")) args.push_back(expand(a.get<std::string>(), vars));
    return test::run_pipeshard(args, row.value("timeout_s", 60));
  }

  void prepare(const Row& row) {
    ASSERT_TRUE(row.load_error.empty()) << row.load_error;
    ASSERT_NO_FATAL_FAILURE(make_files(row.spec.value("base", "llama")));
    for (const json& m : row.spec.value("mutate", json::array())) mutate(m, vars);
  }
};

class HostileCase : public HostileInput {};
class HostileControl : public HostileInput {};

TEST_P(HostileCase, RejectedWithExitTwoNamingFileAndField) {
  const Row& row = GetParam();
  ASSERT_NO_FATAL_FAILURE(prepare(row));
  test::CommandResult r;
  try {
    r = run_row(row.spec);
  } catch (const std::exception& e) {  // run_command's deadline: a hang
    FAIL() << "no answer within the deadline (a hang?): " << e.what();
  }
  SCOPED_TRACE("stderr was: " + r.err);
  if (std::getenv("HOSTILE_SHOW")) std::printf("%s: %s", row.name.c_str(), r.err.c_str());
  const std::string command = row.spec.at("run").at(0).get<std::string>();
  EXPECT_LT(r.exit_code, 128) << "killed by signal " << r.exit_code - 128 << " (a crash, not an error)";
  EXPECT_EQ(r.exit_code, 2) << "bad input must exit with status 2";
  EXPECT_NE(r.err.find("pipeshard " + command + ": error: "), std::string::npos) << "no error line for " << command;
  for (const json& e : row.spec.at("expect")) {
    const std::string m = expand(e.get<std::string>(), vars);
    EXPECT_NE(r.err.find(m), std::string::npos) << "the message does not name '" << m << "'";
  }
  EXPECT_FALSE(test::file_exists(vars["output"])) << "an output file was written";
  EXPECT_TRUE(fs::is_empty(vars["out_dir"])) << "something (a temporary?) was left in the output folder";
}

TEST_P(HostileControl, UnbrokenFilesAreAccepted) {
  const Row& row = GetParam();
  ASSERT_NO_FATAL_FAILURE(prepare(row));
  const test::CommandResult r = run_row(row.spec);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto& run = row.spec.at("run");
  if (std::find(run.begin(), run.end(), "{output}") != run.end()) {
    EXPECT_TRUE(test::file_exists(vars["output"])) << "the control wrote no output";
  }
}

std::string row_name(const ::testing::TestParamInfo<Row>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Table, HostileCase, ::testing::ValuesIn(load_rows("cases")), row_name);
INSTANTIATE_TEST_SUITE_P(Table, HostileControl, ::testing::ValuesIn(load_rows("controls")), row_name);

// The table keeps its promise of breadth: at least 30 cases, and every kind of user file.
TEST(HostileTable, CoversEveryUserFile) {
  const std::vector<Row> rows = load_rows("cases");
  ASSERT_TRUE(rows.front().load_error.empty()) << rows.front().load_error;
  EXPECT_GE(rows.size(), 30u);
  std::map<std::string, int> per_file;
  for (const Row& r : rows) ++per_file[r.spec.at("file").get<std::string>()];
  for (const char* f : {"safetensors", "index", "config", "requests", "plan", "cluster", "profile"})
    EXPECT_GE(per_file[f], 2) << "fewer than 2 cases break the " << f << " file";
}

}  // namespace
}  // namespace ps::hostile
