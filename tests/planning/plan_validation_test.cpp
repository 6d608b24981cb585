// Every rule of the plan format, each with a bad plan and the exact message (file, JSON path,
// rule). The model: a tiny llama with 4 blocks = 6 layers (0 embedding, 1-4 blocks, 5 head).
#include <gtest/gtest.h>

#include "partitioner/plan_validate.h"
#include "partitioner/units.h"
#include "planning_fixtures.h"

namespace ps {
namespace {

const ModelSpec& model() {
  static const ModelSpec spec = test::spec_from(test::tiny_llama_config(4));
  return spec;
}

// A cluster with two small GPUs and a 2-core CPU.
ClusterSpec small_cluster(double gpu_gib = 16) {
  return cluster_from_json(Json{{"name", "t"},
                                {"nodes",
                                 {{{"devices",
                                    {{{"device", "cuda:0"}, {"count", 2}, {"model", "small"}, {"memory_gib", gpu_gib},
                                      {"reserved_gib", 0}, {"peak_tflops", {{"f32", 10}}}, {"memory_bandwidth_gb_s", 100}},
                                     {{"device", "cpu"}, {"cores", 2}, {"memory_gib", 1}, {"reserved_gib", 0.5},
                                      {"peak_tflops", {{"f32", 0.1}}}, {"memory_bandwidth_gb_s", 10}}}},
                                   {"link", {{"bandwidth_gb_s", 10}}}}}}},
                           "t.json");
}

Json two_stages() {
  return Json::parse(R"({"model": "m", "stages": [{"layers": "0-2", "device": "cuda:0"}, {"layers": "3-5", "device": "cuda:1"}]})");
}

// Parses and validates; returns the error message ("" when valid) and fills warnings.
std::string check(const Json& j, const ClusterSpec* cluster = nullptr, std::vector<std::string>* warnings = nullptr) {
  try {
    Plan p = plan_from_json(j, "p.json");
    auto w = plan_validate(p, model(), cluster, "p.json");
    if (warnings) *warnings = w;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << e.what();
    return e.what();
  }
  return "";
}

Json with_stages(const std::vector<std::string>& ranges) {
  Json j = two_stages();
  j["stages"] = Json::array();
  for (size_t i = 0; i < ranges.size(); ++i) j["stages"].push_back({{"layers", ranges[i]}, {"device", "cuda:" + std::to_string(i % 2)}});
  return j;
}

TEST(PlanValidation, MinimalHandPlanTakesDefaults) {
  Plan p = plan_from_json(two_stages(), "p.json");
  EXPECT_TRUE(plan_validate(p, model(), nullptr, "p.json").empty());
  EXPECT_EQ(p.version, 1);
  EXPECT_EQ(p.dtype, DType::F32);  // the checkpoint's torch_dtype
  EXPECT_EQ(p.replicas, 1);
  EXPECT_EQ(p.workload.micro_batches, 1);
  EXPECT_EQ(p.workload.batch, 1);
  EXPECT_EQ(p.workload.mode, Mode::Forward);
  ASSERT_EQ(p.num_stages(), 2);
  EXPECT_EQ(p.stages[1].first, 3);
  EXPECT_EQ(p.stages[1].last, 5);
  EXPECT_EQ(p.stages[1].device, Device::cuda(1));
  EXPECT_EQ(p.stages[1].node, 0);
  EXPECT_EQ(p.stage_dtype(1), DType::F32);
  // With a cluster too, and a single-layer stage written "7"-style.
  EXPECT_EQ(check(with_stages({"0", "1-5"}), nullptr), "");
  const ClusterSpec c = small_cluster();
  EXPECT_EQ(check(two_stages(), &c), "");
}

TEST(PlanValidation, EmptyOrMissingStages) {
  Json j = two_stages();
  j["stages"] = Json::array();
  EXPECT_EQ(check(j), "p.json: stages: the plan has no stages (give at least one {\"layers\": \"0-N\", \"device\": \"cpu\"})");
  j["stages"] = Json::object();
  EXPECT_EQ(check(j), "p.json: stages: expected a list of stages, got object");
  j.erase("stages");
  EXPECT_EQ(check(j), "p.json: stages: required key is missing");
  EXPECT_EQ(check(Json::parse(R"({"stages": []})")), "p.json: model: required key is missing");
  EXPECT_EQ(check(Json::array()), "p.json: expected a JSON object (a plan), got array");
}

TEST(PlanValidation, UnknownKeysWithDidYouMean) {
  Json j = two_stages();
  j["micro_batch"] = 4;
  EXPECT_EQ(check(j), "p.json: micro_batch: unknown key (did you mean 'micro_batches'?)");
  j = two_stages();
  j["stages"][1]["devcie"] = "cuda:1";
  EXPECT_EQ(check(j), "p.json: stages[1].devcie: unknown key (did you mean 'device'?)");
  j = two_stages();
  j["workload"] = {{"prompt_length", 5}};
  EXPECT_EQ(check(j), "p.json: workload.prompt_length: unknown key (did you mean 'prompt_len'?)");
  j = two_stages();
  j["colour"] = "blue";
  EXPECT_EQ(check(j), "p.json: colour: unknown key");
}

TEST(PlanValidation, WrongTypes) {
  Json j = two_stages();
  j["stages"][0]["node"] = "abc";
  EXPECT_EQ(check(j), "p.json: stages[0].node: expected an integer, got string \"abc\"");
  j = two_stages();
  j["replicas"] = 1.5;
  EXPECT_EQ(check(j), "p.json: replicas: expected an integer, got number 1.5");
  j = two_stages();
  j["model"] = 3;
  EXPECT_EQ(check(j), "p.json: model: expected a string, got integer");
  j = two_stages();
  j["stages"][0]["layers"] = Json::array({0, 2});
  EXPECT_EQ(check(j), "p.json: stages[0].layers: expected a layer range string like \"0-12\", got array");
  j = two_stages();
  j["replicas"] = 0;
  EXPECT_EQ(check(j), "p.json: replicas: must be in 1..4096, got 0");
}

TEST(PlanValidation, LayerRangeSyntax) {
  EXPECT_EQ(check(with_stages({"0..2", "3-5"})),
            "p.json: stages[0].layers: '0..2' is not a layer range (expected \"first-last\", inclusive, e.g. \"0-12\", or one layer \"7\")");
  EXPECT_EQ(check(with_stages({"0-2", "5-3"})),
            "p.json: stages[1].layers: '5-3' runs backwards (the first layer must not exceed the last)");
  EXPECT_EQ(check(with_stages({"-1-2", "3-5"})).substr(0, 42), "p.json: stages[0].layers: '-1-2' is not a ");
}

TEST(PlanValidation, Gaps) {
  EXPECT_EQ(check(with_stages({"0-2", "4-5"})),
            "p.json: stages[1].layers: layer 3 belongs to no stage (stages[0] ends at layer 2, stages[1] starts at 4)");
  EXPECT_EQ(check(with_stages({"0-1", "4-5"})),
            "p.json: stages[1].layers: layers 2-3 belong to no stage (stages[0] ends at layer 1, stages[1] starts at 4)");
  EXPECT_EQ(check(with_stages({"1-2", "3-5"})),
            "p.json: stages[0].layers: layer 0 belongs to no stage (the first stage must start at layer 0)");
  EXPECT_EQ(check(with_stages({"0-2", "3-4"})),
            "p.json: stages[1].layers: layer 5 belongs to no stage (the last stage ends at layer 4; the model has 6 layers "
            "(0: embedding, 1-4: blocks 0-3, 5: head))");
}

TEST(PlanValidation, Overlaps) {
  EXPECT_EQ(check(with_stages({"0-3", "3-5"})),
            "p.json: stages[1].layers: '3-5' overlaps stages[0] ('0-3') at layer 3 (stages list consecutive layer ranges in "
            "pipeline order)");
  EXPECT_EQ(check(with_stages({"0-4", "1-5"})).rfind("p.json: stages[1].layers: '1-5' overlaps stages[0] ('0-4') at layers 1-4 (", 0), 0u);
  EXPECT_EQ(check(with_stages({"3-5", "0-2"})).substr(0, 60), "p.json: stages[0].layers: layers 0-2 belong to no stage (the");
}

TEST(PlanValidation, PastTheLastLayer) {
  EXPECT_EQ(check(with_stages({"0-2", "3-9"})),
            "p.json: stages[1].layers: '3-9' runs past the last layer 5; the model has 6 layers (0: embedding, 1-4: blocks 0-3, 5: head)");
}

TEST(PlanValidation, DevicesAndThreads) {
  Json j = two_stages();
  j["stages"][0]["device"] = "gpu:0";
  EXPECT_EQ(check(j).rfind("p.json: stages[0].device: ", 0), 0u) << check(j);
  j = two_stages();
  j["stages"][0]["threads"] = 4;
  EXPECT_EQ(check(j), "p.json: stages[0].threads: only a cpu stage takes threads (this stage runs on cuda:0)");
  j = two_stages();
  j["stages"][0]["device"] = "cpu";
  j["stages"][0]["threads"] = -1;
  EXPECT_EQ(check(j), "p.json: stages[0].threads: must be in 0..4096, got -1");
}

TEST(PlanValidation, DTypes) {
  Json j = two_stages();
  j["dtype"] = "f64";
  EXPECT_EQ(check(j), "p.json: dtype: unknown dtype 'f64' (expected f32, f16 or bf16)");
  j = two_stages();
  j["stages"][1]["dtype"] = "int8";
  EXPECT_EQ(check(j), "p.json: stages[1].dtype: quantized dtype 'int8' is not supported yet (use f32, f16 or bf16)");
  j["stages"][1]["dtype"] = "FP8";
  EXPECT_EQ(check(j), "p.json: stages[1].dtype: quantized dtype 'FP8' is not supported yet (use f32, f16 or bf16)");
  j["stages"][1]["dtype"] = "bf16";
  j["dtype"] = "f16";
  Plan p = plan_from_json(j, "p.json");
  plan_validate(p, model(), nullptr, "p.json");
  EXPECT_EQ(p.stage_dtype(0), DType::F16);
  EXPECT_EQ(p.stage_dtype(1), DType::BF16);
}

TEST(PlanValidation, ReservedKeysAreRefused) {
  Json j = two_stages();
  j["stages"][0]["devices"] = {"cuda:0", "cuda:1"};
  EXPECT_EQ(check(j), "p.json: stages[0].devices: a list of devices per stage (tensor parallelism) is not supported yet "
                      "(reserved for a later plan version)");
  j = two_stages();
  j["model_fingerprint"] = "sha256:abc";
  EXPECT_EQ(check(j), "p.json: model_fingerprint: checking the model's fingerprint is not supported yet (reserved for a "
                      "later plan version)");
  j = two_stages();
  j["version"] = 2;
  EXPECT_EQ(check(j), "p.json: version: plan version 2 is newer than this pipeshard reads (1)");
}

TEST(PlanValidation, Workload) {
  Json j = two_stages();
  j["micro_batches"] = 4;
  j["batch"] = 2;
  EXPECT_EQ(check(j), "p.json: batch: 2 sequences cannot fill 4 micro-batches (batch is the sequences per round, split into "
                      "micro_batches)");
  j = two_stages();
  j["workload"] = {{"mode", "train"}};
  EXPECT_EQ(check(j), "p.json: workload.mode: 'train' is not a mode (forward, generate)");
  j["workload"] = {{"mode", "forward"}, {"max_new_tokens", 3}};
  EXPECT_EQ(check(j), "p.json: workload.max_new_tokens: only a generate workload makes new tokens");
  j["workload"] = {{"mode", "generate"}, {"prompt_len", 500}, {"max_new_tokens", 20}};
  EXPECT_EQ(check(j), "p.json: workload: prompt_len 500 + max_new_tokens 20 = 520 positions exceed the model's context of 512");
  j["workload"] = {{"mode", "generate"}, {"prompt_len", 0}};
  EXPECT_EQ(check(j), "p.json: workload.prompt_len: must be in 1..16777216, got 0");
  j["workload"] = {{"mode", "generate"}};
  Plan p = plan_from_json(j, "p.json");
  EXPECT_EQ(p.workload.max_new_tokens, 32);
  EXPECT_EQ(p.workload.prompt_len, 128);
}

TEST(PlanValidation, MlpModelsOnlyRunForward) {
  const ModelSpec mlp = test::spec_from(Json::parse(R"({"model_type": "mlp", "input_size": 4,
      "layers": [{"type": "linear", "in_features": 4, "out_features": 8}, {"type": "activation", "function": "relu"},
                 {"type": "linear", "in_features": 8, "out_features": 2}]})"));
  Plan p = plan_from_json(Json::parse(R"({"model": "m", "workload": {"mode": "generate"},
      "stages": [{"layers": "0-2", "device": "cpu"}]})"), "p.json");
  try {
    plan_validate(p, mlp, nullptr, "p.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "p.json: workload.mode: an mlp model only runs forward (it generates no tokens)");
  }
}

TEST(PlanValidation, TwoStagesOnOneGpuIsAWarning) {
  Json j = two_stages();
  j["stages"][1]["device"] = "cuda:0";
  std::vector<std::string> w;
  EXPECT_EQ(check(j, nullptr, &w), "");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "stages[1].device: stages 0 and 1 both run on node 0 cuda:0; NCCL cannot send from a GPU to itself, so "
                  "that boundary goes through host memory");
  // On different nodes the same name is two GPUs.
  j["stages"][1]["node"] = 1;
  EXPECT_EQ(check(j, nullptr, &w), "");
  EXPECT_TRUE(w.empty());
  // Stages sharing a CPU are normal.
  j = two_stages();
  j["stages"][0]["device"] = j["stages"][1]["device"] = "cpu";
  EXPECT_EQ(check(j, nullptr, &w), "");
  EXPECT_TRUE(w.empty());
}

TEST(PlanValidation, DevicesMustExistInTheCluster) {
  const ClusterSpec c = small_cluster();
  Json j = two_stages();
  j["stages"][1]["device"] = "cuda:5";
  EXPECT_EQ(check(j, &c), "p.json: stages[1].device: node0 has no cuda:5 (it has cuda:0, cuda:1, cpu)");
  j = two_stages();
  j["stages"][1]["node"] = 3;
  EXPECT_EQ(check(j, &c), "p.json: stages[1].node: node 3 is not in cluster 't' (nodes 0-0)");
  j = two_stages();
  j["replicas"] = 2;  // replica 1 would run on cuda:2 and cuda:3
  EXPECT_EQ(check(j, &c), "p.json: replicas: replica 1 of stages[0] runs on node0/cuda:2, which cluster 't' does not have "
                          "(replica k runs a GPU stage on cuda:N + k * S, S = 1 + the largest GPU index the stages use on "
                          "that node)");
}

TEST(PlanValidation, DoesNotFitInMemory) {
  // 16 KiB GPUs: a block of the tiny model alone holds 147 KiB of f32 weights.
  const ClusterSpec c = small_cluster(16.0 / 1024 / 1024);
  const std::string e = check(two_stages(), &c);
  EXPECT_EQ(e.rfind("p.json: stages[0]: does not fit in memory: needs ", 0), 0u) << e;
  EXPECT_NE(e.find("; node0/cuda:0 (small) has 0.0 GiB for the model (0.0 GiB less 0.0 GiB reserved); move layers"), std::string::npos) << e;
  // Two stages on the 1 GiB CPU (0.5 GiB usable) with long prompts: together they do not fit.
  Json j = two_stages();
  j["stages"][0]["device"] = j["stages"][1]["device"] = "cpu";
  j["batch"] = 512;
  j["workload"] = {{"prompt_len", 512}};
  const ClusterSpec big = small_cluster();
  const std::string shared = check(j, &big);
  EXPECT_EQ(shared.rfind("p.json: stages[0]: does not fit in memory: together with the other stages on its device (stages 0, 1) needs ", 0), 0u)
      << shared;
  EXPECT_NE(shared.find("; node0/cpu (cpu) has 0.5 GiB for the model (1.0 GiB less 0.5 GiB reserved)"), std::string::npos) << shared;
}

TEST(PlanValidation, OversubscribedCpuIsAWarning) {
  const ClusterSpec c = small_cluster();
  Json j = two_stages();
  j["stages"][0]["device"] = j["stages"][1]["device"] = "cpu";
  j["stages"][0]["threads"] = 2;
  j["stages"][1]["threads"] = 2;
  std::vector<std::string> w;
  EXPECT_EQ(check(j, &c, &w), "");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "node0/cpu: its stages run 4 threads on 2 cores (oversubscribed: they will slow each other down)");
}

TEST(PlanValidation, LoadResolvesTheModelNextToThePlan) {
  test::TempDir dir;
  test::write_model(dir, "models/tiny", test::tiny_llama_config(4));
  test::run_command({"mkdir", "-p", dir.file("plans")});
  test::write_text(dir.file("plans/p.json"), R"({"model": "../models/tiny", "stages": [{"layers": "0-5", "device": "cpu"}]})");
  const LoadedPlan lp = plan_load(dir.file("plans/p.json"));
  EXPECT_EQ(lp.model_dir, dir.file("models/tiny"));
  EXPECT_EQ(lp.spec.num_layers(), 6);
  test::write_text(dir.file("plans/q.json"), R"({"model": "../models/none", "stages": [{"layers": "0-5", "device": "cpu"}]})");
  try {
    plan_load(dir.file("plans/q.json"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir.file("plans/q.json") + ": model: ", 0), 0u) << e.what();
  }
  test::write_text(dir.file("plans/r.json"), R"({"model": "../models/tiny", "stages": [{"layers": "0-5" "device": "cpu"}]})");
  try {
    plan_load(dir.file("plans/r.json"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir.file("plans/r.json") + ": not valid JSON", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace ps
