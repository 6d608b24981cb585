// Byte counts past int64 (partitioner/saturate.h): the helpers at their edges, and specs with dims
// at the reader's limits under the largest workloads, where the cost model's bytes saturate at
// kBytesMax (never wrap negative, never undefined) and the partitioner, the planner and plan
// validation all say it does not fit.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "partitioner/cost_model.h"
#include "partitioner/partition.h"
#include "partitioner/plan_validate.h"
#include "partitioner/planner.h"
#include "partitioner/saturate.h"
#include "planning_fixtures.h"

namespace ps {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kDim = std::numeric_limits<int32_t>::max();  // the largest dim the spec reader accepts
constexpr int64_t k24 = int64_t{1} << 24;                       // the plan format's limit on batch, prompt, new tokens
constexpr double kInf = std::numeric_limits<double>::infinity();

static_assert(bytes_from_double(0x1p53) == int64_t{1} << 53);  // usable in constant expressions

TEST(Saturate, BytesFromDouble) {
  EXPECT_EQ(bytes_from_double(0.0), 0);
  EXPECT_EQ(bytes_from_double(12.75), 12);  // truncates, as the cast it replaces
  EXPECT_EQ(bytes_from_double(0x1p53), int64_t{1} << 53);
  EXPECT_EQ(bytes_from_double(0x1p53 + 2), (int64_t{1} << 53) + 2);
  EXPECT_EQ(bytes_from_double(0x1p63 - 1024), INT64_C(9223372036854774784));  // the largest double below 2^63
  EXPECT_EQ(bytes_from_double(0x1p63), kBytesMax);  // INT64_MAX as a double rounds up to 2^63: past int64
  EXPECT_EQ(bytes_from_double(9.3e18), kBytesMax);
  EXPECT_EQ(bytes_from_double(1e30), kBytesMax);
  EXPECT_EQ(bytes_from_double(kInf), kBytesMax);
  EXPECT_EQ(bytes_from_double(std::nan("")), kBytesMax);  // nobody can tell: it does not fit
  EXPECT_EQ(bytes_from_double(-0.0), 0);
  EXPECT_EQ(bytes_from_double(-5.0), 0);
  EXPECT_EQ(bytes_from_double(-kInf), 0);
}

TEST(Saturate, AddAndMultiply) {
  EXPECT_EQ(add_sat(3, 4), 7);
  EXPECT_EQ(add_sat(kBytesMax - 1, 1), kBytesMax);
  EXPECT_EQ(add_sat(kBytesMax, 1), kBytesMax);
  EXPECT_EQ(add_sat(kBytesMax, kBytesMax), kBytesMax);
  EXPECT_EQ(add_sat(kMin, -1), kMin);
  EXPECT_EQ(add_sat(kBytesMax, kMin), -1);  // no overflow: exact
  EXPECT_EQ(mul_sat(8, k24), int64_t{1} << 27);
  EXPECT_EQ(mul_sat(kDim, kDim), INT64_C(4611686014132420609));
  EXPECT_EQ(mul_sat(int64_t{1} << 32, (int64_t{1} << 31) - 1), kBytesMax - ((int64_t{1} << 32) - 1));  // 2^63 - 2^32
  EXPECT_EQ(mul_sat(int64_t{1} << 32, int64_t{1} << 31), kBytesMax);  // 2^63: one past
  EXPECT_EQ(mul_sat(int64_t{1} << 32, int64_t{1} << 32), kBytesMax);
  EXPECT_EQ(mul_sat(-(int64_t{1} << 32), int64_t{1} << 32), kMin);
  EXPECT_EQ(mul_sat(-(int64_t{1} << 32), -(int64_t{1} << 32)), kBytesMax);
  EXPECT_EQ(mul_sat(kBytesMax, 0), 0);
}

// A llama at the reader's limits: hidden size and context 2^31 - 1; one head of 2^28 (q, k, v and
// o of 2^28 x hidden each) and an MLP of 2^28, so that two blocks stay under the 2^63 parameters
// the reader accepts: a block holds 7 * 2^28 + 2 rows of 2^31 - 1, 1.75 * 2^61 parameters, whose
// f32 bytes (7 * 2^61) are past int64 and whose bf16 bytes are not.
Json huge_llama() {
  return Json{{"model_type", "llama"},           {"architectures", {"LlamaForCausalLM"}},
              {"hidden_size", kDim},             {"intermediate_size", 1 << 28},
              {"num_hidden_layers", 2},          {"num_attention_heads", 1},
              {"num_key_value_heads", 1},        {"head_dim", 1 << 28},
              {"vocab_size", k24},               {"max_position_embeddings", kDim},
              {"tie_word_embeddings", false},    {"torch_dtype", "float32"}};
}
constexpr int64_t kBlockParams = (7 * (int64_t{1} << 28) + 2) * kDim;
constexpr int64_t kHeadParams = (k24 + 1) * kDim;  // final norm + LM head

Workload workload(Mode mode, int64_t batch, int64_t prompt, int64_t new_tokens) {
  Workload w;
  w.mode = mode;
  w.batch = batch;
  w.micro_batches = 1;
  w.prompt_len = prompt;
  w.max_new_tokens = new_tokens;
  return w;
}
// The largest a plan file accepts: 2^24 sequences of 2^24 + 2^24 positions in one micro-batch.
Workload largest() { return workload(Mode::Generate, k24, k24, k24); }

void expect_no_negative(const CostModel& m) {
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const LayerCost& c = m.layers[i];
    for (int64_t v : {c.params, c.weight_bytes, c.kv_bytes, c.peak_bytes, c.out_bytes, c.out_decode_bytes})
      EXPECT_GE(v, 0) << "layer " << i;
  }
}

TEST(Saturate, CostModelBytesSaturateAtTheLimits) {
  const ModelSpec spec = test::spec_from(huge_llama());
  ASSERT_EQ(spec.num_layers(), 4);
  ASSERT_EQ(spec.layers[1].param_count(), kBlockParams);
  const CostModel m = cost_model_build(spec, largest(), DType::F32, DType::F32);
  expect_no_negative(m);
  const int64_t decode_out = k24 * kDim * 4;  // one token of 2^31 - 1 floats per sequence: 2^57 - 2^26, exact
  const LayerCost& e = m.layers[0];
  EXPECT_EQ(e.weight_bytes, k24 * kDim * 4);
  EXPECT_EQ(e.out_bytes, kBytesMax);  // 2^48 tokens x (2^31 - 1) x 4 bytes ~ 2^81
  EXPECT_EQ(e.out_decode_bytes, decode_out);
  EXPECT_EQ(e.peak_bytes, kBytesMax);
  for (int l : {1, 2}) {
    const LayerCost& b = m.layers[static_cast<size_t>(l)];
    EXPECT_EQ(b.params, kBlockParams);
    EXPECT_EQ(b.weight_bytes, kBytesMax);  // 7 * 2^61 bytes
    EXPECT_EQ(b.kv_bytes, kBytesMax);      // K and V of 2^28 floats x 2^25 positions x 2^24 sequences = 2^80
    EXPECT_EQ(b.out_bytes, kBytesMax);
    EXPECT_EQ(b.out_decode_bytes, decode_out);
    EXPECT_EQ(b.peak_bytes, kBytesMax);
  }
  const LayerCost& h = m.layers[3];
  EXPECT_EQ(h.weight_bytes, kHeadParams * 4);
  EXPECT_EQ(h.kv_bytes, 0);
  EXPECT_EQ(h.peak_bytes, kBytesMax);
  EXPECT_EQ(m.token_bytes, 8 * k24);

  // In bf16, one sequence of one token: the block's weights are exact again (past 2^53, so
  // counted in integers), the KV cache and activations small.
  const CostModel one = cost_model_build(spec, workload(Mode::Generate, 1, 1, 1), DType::BF16, DType::BF16);
  expect_no_negative(one);
  const LayerCost& b = one.layers[1];
  EXPECT_EQ(b.weight_bytes, kBlockParams * 2);
  EXPECT_EQ(b.kv_bytes, 2 * (int64_t{1} << 28) * 2 * 2);  // K and V, 2 positions, bf16
  EXPECT_EQ(b.out_bytes, kDim * 2);
  // Scratch (2 * hidden + q + 2 * kv + 2 * intermediate values, and one attention score in f32)
  // plus the double-buffered input and output.
  EXPECT_EQ(b.peak_bytes, (2 * kDim + 5 * (int64_t{1} << 28)) * 2 + 4 + 4 * kDim * 2);
}

TEST(Saturate, MlpAtTheLimits) {
  // One (2^31 - 1)-square linear: 2^62 - 2^32 + 1 parameters, past int64 in f32 bytes, not in bf16.
  const ModelSpec spec = test::spec_from(Json{
      {"model_type", "mlp"},
      {"architectures", {"PipeshardMLP"}},
      {"input_size", kDim},
      {"layers", {{{"type", "linear"}, {"in_features", kDim}, {"out_features", kDim}, {"bias", false}},
                  {{"type", "activation"}, {"function", "relu"}}}}});
  // 2^31 - 1 sequences in one micro-batch: activations of ~2^64 bytes.
  const CostModel wide = cost_model_build(spec, workload(Mode::Forward, kDim, 1, 0), DType::F32, DType::F32);
  expect_no_negative(wide);
  for (const LayerCost& c : wide.layers) {
    EXPECT_EQ(c.out_bytes, kBytesMax);
    EXPECT_EQ(c.out_decode_bytes, kBytesMax);
    EXPECT_EQ(c.peak_bytes, kBytesMax);
  }
  EXPECT_EQ(wide.layers[0].weight_bytes, kBytesMax);
  EXPECT_EQ(wide.token_bytes, 8 * kDim);
  const CostModel narrow = cost_model_build(spec, workload(Mode::Forward, k24, 1, 0), DType::BF16, DType::BF16);
  EXPECT_EQ(narrow.layers[0].weight_bytes, kDim * kDim * 2);  // 2^63 - 2^33 + 2: just fits
  EXPECT_EQ(narrow.layers[0].out_bytes, k24 * kDim * 2);
  EXPECT_EQ(narrow.layers[0].peak_bytes, k24 * 2 * kDim * 2 * 2);  // input and output, double-buffered
}

TEST(Saturate, SaturatedPrefixNeverFits) {
  // Layer 1 takes the held prefix past int64: how much of it is layer 1's own is unknown, so no
  // range ending at or after it fits, whatever the capacity (without saturation the prefix would
  // wrap negative and every later range would "fit").
  PartitionProblem p;
  p.layers = 3;
  p.time.assign(3, {0.0, 1.0, 2.0, 3.0});
  p.send.assign(3, {0.0, 0.0, 0.0, 0.0});
  const int64_t big = int64_t{1} << 62;
  p.held = {0, big, kBytesMax, kBytesMax};
  p.peak = {1, 1, 1};
  p.capacity.assign(3, kBytesMax - 1);
  EXPECT_EQ(stage_memory(p, 0, 1), big + 1);
  EXPECT_EQ(stage_memory(p, 1, 2), kBytesMax);
  EXPECT_EQ(stage_memory(p, 2, 3), kBytesMax);
  EXPECT_EQ(stage_memory(p, 0, 3), kBytesMax);
  EXPECT_FALSE(partition_fits(p, {0, 1, 2, 3}));
  EXPECT_FALSE(partition_feasible(p));
  EXPECT_FALSE(partition_optimal(p).has_value());
  EXPECT_FALSE(partition_min_stages(p.held, p.peak, kBytesMax - 1).has_value());
  // A transient past int64 on its own: held + peak saturates instead of wrapping.
  p.held = {0, 1, 2, 3};
  p.peak = {kBytesMax, 0, 0};
  EXPECT_EQ(stage_memory(p, 0, 1), kBytesMax);
  EXPECT_EQ(stage_memory(p, 0, 3), kBytesMax);
  EXPECT_EQ(stage_memory(p, 1, 3), 2);
  EXPECT_FALSE(partition_feasible(p));
  EXPECT_FALSE(partition_min_stages(p.held, p.peak, kBytesMax - 1).has_value());
}

// Two GPUs of the largest memory the cluster reader accepts (2^30 GiB, 1 GiB reserved).
ClusterSpec largest_gpus() {
  return cluster_from_json(Json{{"name", "big"},
                                {"nodes",
                                 {{{"devices",
                                    {{{"device", "cuda:0"}, {"count", 2}, {"model", "huge"}, {"memory_gib", 1 << 30},
                                      {"reserved_gib", 1}, {"peak_tflops", {{"f32", 1000}, {"bf16", 1000}}},
                                      {"memory_bandwidth_gb_s", 1000}}}},
                                   {"link", {{"bandwidth_gb_s", 100}}}}}}},
                           "big.json");
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
    return e.what();
  }
  return "(no error)";
}

PlanRequest request(std::optional<int> stages, const Workload& w) {
  PlanRequest r;
  r.model = "m";
  r.stages = stages;
  r.workload = w;
  r.micro_batches = w.micro_batches;
  r.batch = w.batch;
  return r;
}

TEST(Saturate, PlannerSaysNothingFits) {
  const ModelSpec spec = test::spec_from(huge_llama());
  const ClusterSpec cluster = largest_gpus();
  const std::string room = "; node0/cuda:0 (huge) has 1073741823.0 GiB for the model: use larger devices, or a smaller --dtype";
  // The embedding's transient alone is past int64: 2^63 bytes = 2^33 GiB, with or without --stages.
  for (const std::optional<int> stages : {std::optional<int>(), std::optional<int>(2)}) {
    const std::string e = error_of([&] { plan_make(spec, cluster, request(stages, largest())); });
    EXPECT_EQ(e.rfind("layer 0 (embedding) alone needs 8589934592.0 GiB" + room, 0), 0u) << e;
  }
  // One token: the embedding fits (2^24 x (2^31 - 1) f32 weights, just under 128 PiB); the
  // first block's f32 weights take the held prefix past int64. Its message gives what lies below
  // 2^63: 2^63 less the embedding, plus its transient (one token: scratch of 2 * hidden + 5 * 2^28
  // floats and an attention score, and 4 activations of hidden floats), 8455716917.1 GiB.
  const std::string e = error_of([&] { plan_make(spec, cluster, request(2, workload(Mode::Forward, 1, 1, 0))); });
  EXPECT_EQ(e.rfind("layer 1 (block.0) alone needs 8455716917.1 GiB" + room, 0), 0u) << e;
}

TEST(Saturate, PlanValidationSaysItDoesNotFit) {
  const ModelSpec spec = test::spec_from(huge_llama());
  const ClusterSpec cluster = largest_gpus();
  Plan p = plan_from_json(Json::parse(R"({"model": "m", "batch": 16777216, "micro_batches": 1,
      "workload": {"mode": "generate", "prompt_len": 16777216, "max_new_tokens": 16777216},
      "stages": [{"layers": "0-1", "device": "cuda:0"}, {"layers": "2-3", "device": "cuda:1"}]})"),
                          "p.json");
  const std::string e = error_of([&] { plan_validate(p, spec, &cluster, "p.json"); });
  EXPECT_EQ(e, "p.json: stages[0]: does not fit in memory: needs 8589934592.0 GiB (weights 8589934592.0 GiB, KV cache "
               "8589934592.0 GiB, activations 8589934592.0 GiB); node0/cuda:0 (huge) has 1073741823.0 GiB for the model "
               "(1073741824.0 GiB less 1.0 GiB reserved); move layers to other stages, use more stages, or a smaller "
               "dtype, batch or prompt");
}

}  // namespace
}  // namespace ps
