// The planner on the shipped presets and real model sizes (config.json only), and its answers
// when nothing fits.
#include <gtest/gtest.h>

#include <set>

#include "partitioner/plan_report.h"
#include "partitioner/planner.h"
#include "partitioner/units.h"
#include "planning_fixtures.h"

namespace ps {
namespace {

Workload wl(Mode mode, int64_t batch, int mbs, int64_t prompt, int64_t tokens) {
  Workload w;
  w.mode = mode;
  w.batch = batch;
  w.micro_batches = mbs;
  w.prompt_len = prompt;
  w.max_new_tokens = tokens;
  return w;
}

PlanRequest request(std::optional<int> stages, Workload w, Method m = Method::Optimal) {
  static const std::string kModel = "m";
  PlanRequest r;
  r.model = kModel;
  r.method = m;
  r.stages = stages;
  r.workload = w;
  r.micro_batches = w.micro_batches;
  r.batch = w.batch;
  return r;
}

int blocks(const ModelSpec& spec, const StagePlan& s) {
  int n = 0;
  for (int l = s.first; l <= s.last; ++l) n += spec.layers[static_cast<size_t>(l)].kind == LayerKind::Block;
  return n;
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

TEST(Planner, HeadHeavyModelsGetFewerBlocksOnTheLastStage) {
  struct Case {
    const char* model;
    const char* cluster;
    int stages;
    Workload w;
  };
  const Case cases[] = {
      {"llama-3-8b", "h100-sxm-8x", 4, wl(Mode::Generate, 16, 4, 512, 128)},
      {"llama-3-8b", "h100-sxm-8x", 8, wl(Mode::Generate, 16, 8, 512, 128)},
      // Scoring short prompts: the head (logits at the last position) reads 1 GiB of weights.
      {"llama-3-8b", "a100-pcie-4x", 4, wl(Mode::Forward, 4, 4, 64, 0)},
      {"llama-3-70b", "h100-sxm-8x", 8, wl(Mode::Generate, 32, 8, 1024, 256)},
      {"llama-3-70b", "h100-2node-ib", 16, wl(Mode::Generate, 32, 16, 1024, 256)},
      {"gpt2-xl", "a100-pcie-4x", 4, wl(Mode::Generate, 8, 4, 256, 64)},
  };
  for (const Case& c : cases) {
    const ModelSpec spec = test::preset_model(c.model);
    const PlanResult r = plan_make(spec, test::preset_cluster(c.cluster), request(c.stages, c.w));
    const auto& st = r.plan.stages;
    ASSERT_EQ(static_cast<int>(st.size()), c.stages);
    int most = 0, total = 0;
    for (size_t s = 0; s + 1 < st.size(); ++s) {
      most = std::max(most, blocks(spec, st[s]));
      total += blocks(spec, st[s]);
    }
    const double mean = static_cast<double>(total) / (c.stages - 1);
    const int last = blocks(spec, st.back());
    EXPECT_LT(last, mean) << c.model << " on " << c.cluster << "\n" << plan_dump(r.plan);
    EXPECT_LT(last, most) << c.model << " on " << c.cluster;
    // The head stage's time still stays within the bottleneck the optimum found.
    EXPECT_LE(r.estimate.stages.back().compute_s, r.estimate.bottleneck_s);
  }
}

TEST(Planner, MixedNodeGivesMoreLayersToTheLargerGpus) {
  // In bf16 (tensor cores) the A100 is 2.6x an L4 in FLOP/s and 6.5x in bandwidth. (In plain f32
  // an L4's 30.3 TFLOP/s beat an A100's 19.5, and the planner rightly favours the L4 for
  // compute-bound passes.)
  const ClusterSpec mixed = test::preset_cluster("mixed-2large-2small");
  for (const char* m : {"llama-3-8b", "gpt2-xl"})
    for (const Workload& w : {wl(Mode::Forward, 4, 4, 512, 0), wl(Mode::Generate, 8, 4, 256, 64)}) {
      const ModelSpec spec = test::preset_model(m);
      PlanRequest req = request(4, w);
      req.dtype = DType::BF16;
      const PlanResult r = plan_make(spec, mixed, req);
      const auto& st = r.plan.stages;
      ASSERT_EQ(st.size(), 4u);
      EXPECT_EQ(st[0].device, Device::cuda(0));
      EXPECT_EQ(st[3].device, Device::cuda(3));
      for (int large : {0, 1})
        for (int small : {2, 3})
          EXPECT_GT(st[static_cast<size_t>(large)].num_layers(), st[static_cast<size_t>(small)].num_layers())
              << m << " " << mode_name(w.mode) << "\n" << plan_dump(r.plan);
    }
}

TEST(Planner, OptimalIsNeverWorseThanTheBaselines) {
  for (const char* cluster : {"h100-sxm-8x", "mixed-2large-2small", "h100-2node-ib"})
    for (const char* model : {"llama-3-8b", "gpt2-xl"}) {
      const ModelSpec spec = test::preset_model(model);
      const ClusterSpec c = test::preset_cluster(cluster);
      const Workload w = wl(Mode::Generate, 8, 4, 256, 32);
      const double opt = plan_make(spec, c, request(4, w)).estimate.bottleneck_s;
      const double uni = plan_make(spec, c, request(4, w, Method::Uniform)).estimate.bottleneck_s;
      const double par = plan_make(spec, c, request(4, w, Method::Params)).estimate.bottleneck_s;
      EXPECT_LE(opt, uni * (1 + 1e-12)) << model << " " << cluster;
      EXPECT_LE(opt, par * (1 + 1e-12)) << model << " " << cluster;
    }
}

TEST(Planner, FewestStagesThatFit) {
  const ModelSpec spec = test::preset_model("llama-3-70b");  // 131 GiB of bf16 weights
  const PlanResult r = plan_make(spec, test::preset_cluster("a100-pcie-4x"), request(std::nullopt, wl(Mode::Forward, 2, 2, 128, 0)));
  EXPECT_EQ(r.plan.num_stages(), 2);
  EXPECT_EQ(r.notes.front(), "fewest stages that fit: 2 (--stages N for more)");
  // Without micro-batch options the planner fills the pipeline: one micro-batch per stage.
  PlanRequest auto_mb = request(std::nullopt, wl(Mode::Forward, 1, 1, 128, 0));
  auto_mb.micro_batches.reset();
  auto_mb.batch.reset();
  const PlanResult a = plan_make(spec, test::preset_cluster("a100-pcie-4x"), auto_mb);
  EXPECT_EQ(a.plan.workload.micro_batches, 2);
  EXPECT_EQ(a.plan.workload.batch, 2);
}

TEST(Planner, InfeasibleSaysWhyAndWhatWouldFix) {
  const ModelSpec spec = test::preset_model("llama-3-8b");
  // One layer too large: the bf16 head (128256 x 4096) is 0.98 GiB; these GPUs offer 0.5 GiB.
  const ClusterSpec tiny = cluster_from_json(Json::parse(R"({"name": "tiny", "nodes": [{"count": 2, "devices": [
      {"device": "cuda:0", "count": 4, "model": "tiny-1GB", "memory_gib": 1, "reserved_gib": 0.5,
       "peak_tflops": {"f32": 1}, "memory_bandwidth_gb_s": 100}], "link": {"bandwidth_gb_s": 10}}],
      "inter_node_link": {"bandwidth_gb_s": 1}})"), "tiny.json");
  std::string e = error_of([&] { plan_make(spec, tiny, request(8, wl(Mode::Forward, 1, 1, 16, 0))); });
  EXPECT_EQ(e.rfind("layer 0 (embedding) alone needs 1.0 GiB; node0/cuda:0 (tiny-1GB) has 0.5 GiB for the model: use larger "
                    "devices, or a smaller --dtype",
                    0),
            0u)
      << e;
  // Homogeneous devices: the fewest stages it needs.
  const ModelSpec big = test::preset_model("llama-3-70b");
  e = error_of([&] { plan_make(big, test::preset_cluster("a100-pcie-4x"), request(1, wl(Mode::Forward, 1, 1, 128, 0))); });
  EXPECT_EQ(e.rfind("needs at least 2 stages of node0/cuda:0 (A100-PCIe-80GB, 78.5 GiB for the model each; the model needs "
                    "131.4 GiB without transients); --stages 1 asks for 1: use more stages, or a smaller --dtype",
                    0),
            0u)
      << e;
  // Heterogeneous devices in order: the totals.
  PlanRequest f32 = request(std::nullopt, wl(Mode::Forward, 1, 1, 128, 0));
  f32.dtype = DType::F32;
  e = error_of([&] { plan_make(big, test::preset_cluster("mixed-2large-2small"), f32); });
  EXPECT_EQ(e.rfind("no split of the 82 layers over these 4 stages (node0/cuda:0 ... node0/cuda:3, in order) fits in memory: the "
                    "model needs 262.8 GiB without transients and the stages offer 203.0 GiB; use more or larger devices, or",
                    0),
            0u)
      << e;
  // A baseline that ignores memory is refused, pointing at the method that does not.
  e = error_of([&] { plan_make(big, test::preset_cluster("mixed-2large-2small"), request(4, wl(Mode::Forward, 1, 1, 128, 0), Method::Uniform)); });
  EXPECT_NE(e.find("--method uniform: stage 2 (layers 42-61) needs"), std::string::npos) << e;
  EXPECT_NE(e.find("--method optimal places layers within every device's memory"), std::string::npos) << e;
  // More stages than GPUs, and no CPU to take the rest.
  e = error_of([&] { plan_make(spec, test::preset_cluster("a100-pcie-4x"), request(5, wl(Mode::Forward, 1, 1, 128, 0))); });
  EXPECT_EQ(e, "--stages 5: cluster '4x A100 80GB PCIe (one node, no NVLink bridges)' has 4 GPU(s) and no CPU; the planner puts "
               "one stage per GPU");
  e = error_of([&] { plan_make(spec, test::preset_cluster("a100-pcie-4x"), request(40, wl(Mode::Forward, 1, 1, 128, 0))); });
  EXPECT_EQ(e.rfind("--stages 40: must be in 1..34 (the model has 34 layers", 0), 0u) << e;
}

TEST(Planner, ReplicasTakeDisjointGpus) {
  const ModelSpec spec = test::preset_model("llama-3-8b");
  const ClusterSpec c = test::preset_cluster("h100-2node-ib");
  PlanRequest r = request(8, wl(Mode::Forward, 8, 8, 128, 0));
  r.replicas = 2;
  const PlanResult res = plan_make(spec, c, r);
  ASSERT_EQ(plan_world_size(res.plan), 16);
  // Replica 0: cuda:0-3 of node 0, then cuda:0-3 of node 1.
  EXPECT_EQ(res.plan.stages[3].device, Device::cuda(3));
  EXPECT_EQ(res.plan.stages[3].node, 0);
  EXPECT_EQ(res.plan.stages[4].device, Device::cuda(0));
  EXPECT_EQ(res.plan.stages[4].node, 1);
  std::set<std::pair<int, int>> used;
  for (int rank = 0; rank < 16; ++rank) {
    const RankPlacement p = plan_rank_placement(res.plan, rank);
    EXPECT_TRUE(used.insert({p.node, p.device.index}).second) << rank;
    EXPECT_LT(p.device.index, 8);
  }
  // Two replicas nearly double the throughput of one; not quite, since each replica now crosses
  // InfiniBand between its 4th and 5th stage where one replica stayed on NVLink.
  r.replicas = 1;
  const PlanResult one = plan_make(spec, c, r);
  EXPECT_EQ(one.plan.stages[7].node, 0);
  EXPECT_GT(res.plan.predictions->tokens_per_s, 1.5 * one.plan.predictions->tokens_per_s);
  EXPECT_LE(res.plan.predictions->tokens_per_s, 2.0 * one.plan.predictions->tokens_per_s);
}

TEST(Planner, StagesShareTheCpu) {
  const ModelSpec spec = test::spec_from(test::tiny_llama_config(6, 256, 5000));
  const ClusterSpec cpu = test::preset_cluster("cpu-2core");
  const PlanResult r = plan_make(spec, cpu, request(2, wl(Mode::Forward, 2, 2, 64, 0)));
  ASSERT_EQ(r.plan.num_stages(), 2);
  EXPECT_TRUE(r.plan.stages[0].device.is_cpu() && r.plan.stages[1].device.is_cpu());
  EXPECT_EQ(r.plan.stages[0].threads, 1);  // written into the plan for the runtime
  const PlanContext ctx(r.plan, spec, cpu, nullptr);
  EXPECT_EQ(ctx.stages[0].threads, 1);
  EXPECT_DOUBLE_EQ(ctx.stages[0].share, 0.5);  // 2 stages on 2 cores
  EXPECT_DOUBLE_EQ(ctx.stages[0].clock.rate.flops, 0.5 * 0.333e12);
  EXPECT_DOUBLE_EQ(ctx.stages[0].next_link.bandwidth, 2e9);  // loopback between the two processes
  EXPECT_EQ(ctx.stages[0].capacity_bytes, cpu.nodes[0].devices[0].usable_bytes() / 2);
  ASSERT_FALSE(ctx.notes.empty());
  EXPECT_EQ(ctx.notes[0], "stage 0 shares node0/cpu (2 cores) with 1 other stage(s): 1 thread(s), 50% of its FLOP/s, "
                          "bandwidth and memory");
  const PlanResult one = plan_make(spec, cpu, request(1, wl(Mode::Forward, 2, 2, 64, 0)));
  const PlanContext ctx1(one.plan, spec, cpu, nullptr);
  EXPECT_EQ(ctx1.stages[0].threads, 2);
  EXPECT_DOUBLE_EQ(ctx1.stages[0].share, 1.0);
  // The text output: one timeline line per stage.
  const std::string timeline = plan_timeline(r.estimate, 40);
  EXPECT_NE(timeline.find("stage  0 |0"), std::string::npos) << timeline;
  EXPECT_NE(timeline.find("stage  1 |."), std::string::npos) << timeline;
  const std::string table = plan_table(r.plan, spec, &ctx, &r.estimate);
  EXPECT_NE(table.find("node0/cpu (1t)"), std::string::npos) << table;
}

TEST(Planner, PredictionsMatchTheSimulation) {
  const ModelSpec spec = test::preset_model("llama-3-8b");
  const PlanResult r = plan_make(spec, test::preset_cluster("h100-sxm-8x"), request(4, wl(Mode::Forward, 16, 8, 512, 0)));
  const PlanPredictions& p = *r.plan.predictions;
  EXPECT_EQ(p.method, "optimal");
  EXPECT_DOUBLE_EQ(p.makespan_s, r.estimate.sim.makespan);
  EXPECT_DOUBLE_EQ(p.sequences_per_s, 16 / r.estimate.sim.makespan);
  EXPECT_DOUBLE_EQ(p.tokens_per_s, 16 * 512 / r.estimate.sim.makespan);
  // Forward, 8 micro-batches on 4 nearly balanced stages: the bubble is near (P-1)/(M+P-1) = 3/11.
  EXPECT_NEAR(p.bubble, 3.0 / 11, 0.05);
  ASSERT_EQ(p.stages.size(), 4u);
  double busy = 0;
  for (const auto& s : p.stages) busy += s.busy_s;
  EXPECT_NEAR(1 - busy / (4 * p.makespan_s), p.bubble, 1e-12);
}

}  // namespace
}  // namespace ps
