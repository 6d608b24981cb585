// The cost model against hand-computed FLOPs, bytes and times.
#include <gtest/gtest.h>

#include <random>

#include "partitioner/cost_model.h"
#include "planning_fixtures.h"

namespace ps {
namespace {

Workload workload(Mode mode, int64_t batch, int mbs, int64_t prompt, int64_t new_tokens) {
  Workload w;
  w.mode = mode;
  w.batch = batch;
  w.micro_batches = mbs;
  w.prompt_len = prompt;
  w.max_new_tokens = new_tokens;
  return w;
}

TEST(CostModel, SumMaxLinearMatchesALoop) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  for (int trial = 0; trial < 2000; ++trial) {
    const double a = u(rng), b = u(rng) * 0.1, c = u(rng), d = u(rng) * 0.1;
    const int64_t c0 = trial % 50, c1 = c0 + trial % 37 - 3;
    double loop = 0.0;
    for (int64_t x = c0; x <= c1; ++x) loop += std::max(a + b * static_cast<double>(x), c + d * static_cast<double>(x));
    EXPECT_NEAR(sum_max_linear(a, b, c, d, c0, c1), loop, 1e-9 * (1.0 + std::abs(loop))) << trial;
  }
}

TEST(CostModel, RooflineIsTheSlowerOfComputeAndMemory) {
  const DeviceRate r{1e12, 1e11, 1e-6};
  EXPECT_DOUBLE_EQ(roofline_time({2e12, 1e9}, r), 2.0 + 1e-6);    // compute bound
  EXPECT_DOUBLE_EQ(roofline_time({1e9, 5e11}, r), 5.0 + 1e-6);    // memory bound
}

TEST(CostModel, BlockFlopsAndBytesByHand) {
  // hidden 64, intermediate 128, 4 heads of 16, 2 KV heads: q,o 64x64, k,v 32x64, gate,up 128x64, down 64x128.
  const ModelSpec spec = test::spec_from(test::tiny_llama_config(2));
  const double matrices = 4096 + 2048 + 2048 + 4096 + 3 * 8192;
  const Workload w = workload(Mode::Generate, 4, 2, 8, 4);  // micro-batches of 2 sequences, 8-token prompts
  const CostModel m = cost_model_build(spec, w, DType::F32, DType::F32);
  ASSERT_EQ(m.layers.size(), 4u);  // embedding, 2 blocks, head
  const LayerCost& b = m.layers[1];
  const double tokens = 2 * 8;
  EXPECT_DOUBLE_EQ(b.pass.flops, 2 * tokens * matrices + 4 * 2 * 64 * (8 * 9 / 2));  // GEMMs + causal attention
  EXPECT_DOUBLE_EQ(b.decode_base.flops, 2 * 2 * matrices);
  EXPECT_DOUBLE_EQ(b.decode_per_ctx.flops, 4 * 2 * 64);    // q.K and p.V per cached position
  EXPECT_DOUBLE_EQ(b.decode_per_ctx.bytes, 2 * 2 * 32 * 4);  // K and V rows of 32 floats, 2 sequences
  EXPECT_EQ(b.kv_bytes, 2 * 32 * (8 + 4) * 4 * 4);         // K and V, 12 positions, 4 sequences, f32
  EXPECT_EQ(b.params, spec.layers[1].param_count());
  EXPECT_EQ(b.weight_bytes, b.params * 4);
  EXPECT_EQ(b.out_bytes, 16 * 64 * 4);
  EXPECT_EQ(b.out_decode_bytes, 2 * 64 * 4);
  // The head: final norm and logits at the last position only.
  const LayerCost& h = m.layers[3];
  EXPECT_DOUBLE_EQ(h.pass.flops, 2 * 2 * 64 * 1000 + 8 * 2 * 64);
  EXPECT_DOUBLE_EQ(h.pass.bytes, (64 + 64000) * 4 + 2 * (64 * 4 + 1000 * 4));
  EXPECT_EQ(m.token_bytes, 16);
  // bf16 weights halve the weight bytes; activations stay as given.
  const CostModel half = cost_model_build(spec, w, DType::BF16, DType::F32);
  EXPECT_EQ(half.layers[1].weight_bytes, b.params * 2);
  EXPECT_EQ(half.layers[1].kv_bytes, b.kv_bytes);
}

TEST(CostModel, ForwardModeHoldsNoKvCache) {
  const ModelSpec spec = test::spec_from(test::tiny_llama_config(2));
  const CostModel m = cost_model_build(spec, workload(Mode::Forward, 4, 2, 8, 0), DType::F32, DType::F32);
  for (const auto& l : m.layers) EXPECT_EQ(l.kv_bytes, 0);
}

TEST(CostModel, WorkloadTimeIsPrefillPlusEveryDecodeStep) {
  const ModelSpec spec = test::spec_from(test::tiny_llama_config(2, 256, 5000));
  const CostModel m = cost_model_build(spec, workload(Mode::Generate, 8, 2, 100, 50), DType::F32, DType::F32);
  // A rate where decode crosses from memory- to compute-bound inside the range.
  LayerClock clock;
  clock.rate = {3e9, 2e10, 2e-6};
  for (int l = 0; l < 4; ++l) {
    double loop = clock.round_time(m, l, RoundKind::Prefill, 100);
    for (int64_t c = 101; c <= 149; ++c) loop += clock.round_time(m, l, RoundKind::Decode, c);
    EXPECT_NEAR(clock.workload_time(m, l), loop, 1e-12 * loop) << l;
  }
  // Measured times replace the roofline: pass + 49 decode steps, scaled.
  const std::vector<double> pass = {1, 2, 3, 4}, decode = {0.1, 0.2, 0.3, 0.4};
  clock.measured_pass = &pass;
  clock.measured_decode = &decode;
  clock.measured_scale = 2.0;
  EXPECT_DOUBLE_EQ(clock.workload_time(m, 1), 2.0 * (2 + 49 * 0.2));
  EXPECT_DOUBLE_EQ(clock.round_time(m, 2, RoundKind::Decode, 120), 0.6);
}

TEST(CostModel, SendTimesOverALink) {
  const ModelSpec spec = test::spec_from(test::tiny_llama_config(2));
  const LinkSpec link{1e9, 1e-5};
  const CostModel f = cost_model_build(spec, workload(Mode::Forward, 4, 2, 8, 0), DType::F32, DType::F32);
  EXPECT_DOUBLE_EQ(send_workload_time(f, 1, link), 1e-5 + 4096 / 1e9);
  EXPECT_DOUBLE_EQ(tokens_workload_time(f, link), 0.0);
  const CostModel g = cost_model_build(spec, workload(Mode::Generate, 4, 2, 8, 5), DType::F32, DType::F32);
  EXPECT_DOUBLE_EQ(send_workload_time(g, 1, link), (1e-5 + 4096 / 1e9) + 4 * (1e-5 + 512 / 1e9));
  EXPECT_DOUBLE_EQ(tokens_workload_time(g, link), 5 * (1e-5 + 16 / 1e9));
  EXPECT_EQ(link_time(LinkSpec{}, 1e9), 0.0);  // a free link (same device, no loopback given)
}

TEST(CostModel, LargeVocabularyHeadOutweighsABlockInDecode) {
  const ModelSpec spec = test::preset_model("llama-3-8b");
  const ClusterSpec c = test::preset_cluster("h100-sxm-8x");
  const CostModel m = cost_model_build(spec, workload(Mode::Generate, 8, 8, 512, 128), DType::BF16, DType::BF16);
  LayerClock clock;
  clock.rate = device_rate(c.nodes[0].devices[0], DType::BF16, 1.0);
  const double block = clock.workload_time(m, 1), head = clock.workload_time(m, spec.num_layers() - 1);
  EXPECT_GT(head, 2.0 * block);  // 525 M parameters read per step against 218 M
  EXPECT_LT(clock.workload_time(m, 0), 0.2 * block);  // a gather: little more than the per-layer overhead
  EXPECT_EQ(activation_dtype(c.nodes[0].devices[0], DType::BF16), DType::BF16);
}

}  // namespace
}  // namespace ps
