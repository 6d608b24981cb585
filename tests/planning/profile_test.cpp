// PROFILE.json: format round trip, selection rules, and plans made from measured times.
#include <gtest/gtest.h>

#include "partitioner/plan_estimate.h"
#include "partitioner/planner.h"
#include "partitioner/profile.h"
#include "planning_fixtures.h"

namespace ps {
namespace {

const ModelSpec& model() {
  static const ModelSpec spec = test::spec_from(test::tiny_llama_config(4));
  return spec;
}

// Measured times: every block 1 ms except block 3 (layer 4) at 5 ms.
Profile cpu_profile() {
  Profile p;
  p.path = "prof.json";
  p.model = "tiny";
  p.model_type = "llama";
  p.device = Device::cpu();
  p.device_model = "cpu-2core-avx512";
  p.threads = 1;
  p.dtype = DType::F32;
  p.send = LinkSpec{2e9, 30e-6};
  for (Mode mode : {Mode::Forward, Mode::Generate}) {
    ProfileMeasurement m;
    m.mode = mode;
    m.micro_batch = 1;
    m.prompt_len = 16;
    m.max_new_tokens = mode == Mode::Generate ? 8 : 0;
    for (const auto& l : model().layers) {
      const double t = l.index == 4 ? 5e-3 : l.kind == LayerKind::Block ? 1e-3 : 1e-4;
      m.layers.push_back({l.name, t, mode == Mode::Generate ? std::optional<double>(t / 10) : std::nullopt});
    }
    p.measurements.push_back(m);
  }
  return p;
}

Workload wl(Mode mode, int64_t batch, int mbs, int64_t prompt, int64_t tokens) {
  Workload w;
  w.mode = mode;
  w.batch = batch;
  w.micro_batches = mbs;
  w.prompt_len = prompt;
  w.max_new_tokens = tokens;
  return w;
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

TEST(Profile, RoundTrip) {
  test::TempDir dir;
  profile_write(cpu_profile(), dir.file("p.json"));
  const Profile q = profile_load(dir.file("p.json"));
  EXPECT_EQ(q.device, Device::cpu());
  EXPECT_EQ(q.device_model, "cpu-2core-avx512");
  EXPECT_EQ(q.threads, 1);
  ASSERT_TRUE(q.send);
  EXPECT_DOUBLE_EQ(q.send->latency, 30e-6);
  ASSERT_EQ(q.measurements.size(), 2u);
  EXPECT_EQ(q.measurements[1].mode, Mode::Generate);
  EXPECT_EQ(q.measurements[1].max_new_tokens, 8);
  ASSERT_EQ(q.measurements[1].layers.size(), 6u);
  EXPECT_EQ(q.measurements[1].layers[4].name, "block.3");
  EXPECT_DOUBLE_EQ(q.measurements[1].layers[4].pass_s, 5e-3);
  EXPECT_DOUBLE_EQ(*q.measurements[1].layers[4].decode_s, 5e-4);
  EXPECT_EQ(profile_dump(q), profile_dump(cpu_profile()));
}

TEST(Profile, BadFilesNameTheField) {
  Json j = json_parse(profile_dump(cpu_profile()), "p.json");
  j["measurements"][0]["layers"][2]["pass_ms"] = 1;
  EXPECT_EQ(error_of([&] { profile_from_json(j, "p.json"); }),
            "p.json: measurements[0].layers[2].pass_ms: unknown key (did you mean 'pass_s'?)");
  j = json_parse(profile_dump(cpu_profile()), "p.json");
  j["measurements"][1]["layers"][0].erase("decode_s");
  EXPECT_EQ(error_of([&] { profile_from_json(j, "p.json"); }), "p.json: measurements[1].layers[0].decode_s: required key is missing");
  j = json_parse(profile_dump(cpu_profile()), "p.json");
  j["version"] = 3;
  EXPECT_EQ(error_of([&] { profile_from_json(j, "p.json"); }), "p.json: version: 3 is not supported (this pipeshard reads version 1)");
  j = json_parse(profile_dump(cpu_profile()), "p.json");
  j["measurements"][0]["layers"][1]["pass_s"] = -1;
  EXPECT_EQ(error_of([&] { profile_from_json(j, "p.json"); }), "p.json: measurements[0].layers[1].pass_s: expected seconds >= 0, got -1");
}

TEST(Profile, SelectsTheMatchingShape) {
  const Profile p = cpu_profile();
  const ProfileTimes f = profile_select(p, model(), wl(Mode::Forward, 2, 2, 16, 0), DType::F32);
  EXPECT_DOUBLE_EQ(f.pass[4], 5e-3);
  const ProfileTimes g = profile_select(p, model(), wl(Mode::Generate, 2, 2, 16, 20), DType::F32);
  EXPECT_DOUBLE_EQ(g.decode[4], 5e-4);
  EXPECT_EQ(g.note, "decode times measured over 8 new tokens, used for 20");
  EXPECT_EQ(error_of([&] { profile_select(p, model(), wl(Mode::Forward, 4, 2, 16, 0), DType::F32); }),
            "prof.json: no measurement for forward micro_batch 2 prompt_len 16; the file holds:\n"
            "  forward micro_batch 1 prompt_len 16\n"
            "  generate micro_batch 1 prompt_len 16 max_new_tokens 8\n"
            "re-run pipeshard profile with this shape");
  EXPECT_EQ(error_of([&] { profile_select(p, model(), wl(Mode::Forward, 1, 1, 16, 0), DType::BF16); }),
            "prof.json: measured in f32; this plan runs bf16 (re-run pipeshard profile with --dtype bf16)");
  const ModelSpec other = test::spec_from(test::tiny_llama_config(5));
  EXPECT_EQ(error_of([&] { profile_select(p, other, wl(Mode::Forward, 1, 1, 16, 0), DType::F32); }),
            "prof.json: measured a model with 6 layers; config.json has 7");
}

TEST(Profile, PlanUsesMeasuredTimes) {
  // Two stages on the 2-core CPU, one thread each (the profile's): the slow block 3 (5 ms) is
  // worth five others, so the optimal split isolates it: 0-3 (3.2 ms) | 4-5 (5.1 ms).
  const ClusterSpec cpu = test::preset_cluster("cpu-2core");
  const Profile prof = cpu_profile();
  PlanRequest req;
  req.model = "tiny";
  req.stages = 2;
  req.workload = wl(Mode::Forward, 2, 2, 16, 0);
  req.profile = &prof;
  const PlanResult r = plan_make(model(), cpu, req);
  ASSERT_EQ(r.plan.num_stages(), 2);
  EXPECT_EQ(r.plan.stages[0].last, 3);
  EXPECT_EQ(r.plan.stages[1].first, 4);
  const PlanContext ctx(r.plan, model(), cpu, &prof);
  EXPECT_TRUE(ctx.stages[0].measured);
  EXPECT_EQ(ctx.stages[0].threads, 1);
  EXPECT_DOUBLE_EQ(r.estimate.stages[0].compute_s, 1e-4 + 3e-3);
  EXPECT_DOUBLE_EQ(r.estimate.stages[1].compute_s, 5e-3 + 1e-4);
  // The profile's measured send replaces the loopback link: 30 us + 16 x 64 x 4 bytes / 2 GB/s.
  EXPECT_DOUBLE_EQ(r.estimate.stages[0].send_s, 30e-6 + 16 * 64 * 4 / 2e9);
  EXPECT_TRUE(r.plan.predictions->profiled);
  // One stage with both cores: measured at 1 thread, scaled by 1/2.
  req.stages = 1;
  const PlanResult one = plan_make(model(), cpu, req);
  EXPECT_DOUBLE_EQ(one.estimate.stages[0].compute_s, (3 * 1e-3 + 5e-3 + 2 * 1e-4) / 2);
  // A profile of a device the cluster does not have is an error, not silently ignored.
  Profile gpu = prof;
  gpu.device = Device::cuda(0);
  gpu.device_model = "H100";
  req.profile = &gpu;
  EXPECT_EQ(error_of([&] { plan_make(model(), cpu, req); }),
            "prof.json: measured on cuda:0 'H100', but no stage runs on such a device (a profile applies to devices of the "
            "same kind and \"model\")");
}

}  // namespace
}  // namespace ps
