// pipeshard plan: split a model's layers into pipeline stages on a cluster and write the plan
// (partitioner/planner.h), or check any plan with --check. Prints the stage table, the predicted
// throughput and bubble, and with --simulate the simulated timeline.
#include <cstdio>
#include <filesystem>
#include <optional>

#include "partitioner/cluster.h"
#include "runtime/spec/model_spec.h"
#include "partitioner/plan_report.h"
#include "partitioner/plan_validate.h"
#include "partitioner/planner.h"
#include "partitioner/profile.h"
#include "runtime/core/error.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"

namespace ps::cli {
namespace {

const std::vector<OptionSpec> kOptions = {
    {"model", true, "model folder (only config.json is read)"},
    {"cluster", true, "cluster spec JSON (configs/clusters/)"},
    {"stages", true, "number of pipeline stages (default: the fewest that fit)"},
    {"min-stages", false, "use the fewest stages that fit (the default without --stages)"},
    {"replicas", true, "pipeline replicas (data parallel), default 1"},
    {"method", true, "uniform | params | optimal (default optimal)"},
    {"mode", true, "forward | generate (default forward)"},
    {"batch", true, "sequences per round per replica (default: --micro-batches)"},
    {"micro-batches", true, "micro-batches per round (default: the number of stages)"},
    {"prompt-len", true, "prompt length in tokens (default 128)"},
    {"max-new-tokens", true, "tokens to generate per sequence (generate; default 32)"},
    {"dtype", true, "f32 | f16 | bf16 (default: the checkpoint's torch_dtype)"},
    {"profile", true, "PROFILE.json with measured per-layer times (pipeshard profile)"},
    {"simulate", false, "print the simulated per-stage timeline"},
    {"out", true, "write the plan here (atomically)"},
    {"check", true, "validate this plan file instead of planning (with --cluster: memory and predictions)"},
    {"help", false, "show this help"},
};

void print_lines(const std::vector<std::string>& lines, const char* prefix) {
  for (const auto& l : lines) std::printf("%s%s\n", prefix, l.c_str());
}

int positive(const Args& a, const char* name, int dflt) { return a.int32(name, dflt, 1, 1 << 24); }

int run_check(const Args& a) {
  const std::string path = a.required("check");
  for (const char* o : {"model", "stages", "min-stages", "replicas", "method", "mode", "batch", "micro-batches",
                        "prompt-len", "max-new-tokens", "dtype", "out"})
    if (a.has(o)) fail_input("plan --check: --", o, " does not apply (the plan file says it)");
  std::optional<ClusterSpec> cluster;
  if (a.has("cluster")) cluster = cluster_load(a.str("cluster", ""));
  std::optional<Profile> profile;
  if (a.has("profile")) profile = profile_load(a.str("profile", ""));
  if (!cluster && (a.flag("simulate") || profile)) fail_input("plan --check: --simulate and --profile need --cluster");
  const LoadedPlan lp = plan_load(path, cluster ? &*cluster : nullptr, profile ? &*profile : nullptr);
  print_lines(lp.warnings, "warning: ");
  if (!cluster) {
    std::fputs(plan_table(lp.plan, lp.spec, nullptr, nullptr).c_str(), stdout);
    std::printf("%s: ok (%d stage(s), %d replica(s), %s; --cluster C.json also checks memory and predicts)\n", path.c_str(),
                lp.plan.num_stages(), lp.plan.replicas, model_layers_summary(lp.spec).c_str());
    return 0;
  }
  const PlanContext ctx(lp.plan, lp.spec, *cluster, profile ? &*profile : nullptr);
  const PlanEstimate est = plan_estimate(lp.plan, ctx);
  std::fputs(plan_table(lp.plan, lp.spec, &ctx, &est).c_str(), stdout);
  std::fputs(plan_summary(lp.plan, est).c_str(), stdout);
  print_lines(ctx.notes, "note: ");
  if (a.flag("simulate")) std::fputs(plan_timeline(est).c_str(), stdout);
  std::printf("%s: ok on cluster '%s'\n", path.c_str(), cluster->name.c_str());
  return 0;
}

int run_plan(const Args& a) {
  const std::string model_dir = a.required("model");
  const ClusterSpec cluster = cluster_load(a.required("cluster"));
  const ModelSpec spec = model_spec_load(model_dir);
  if (a.has("stages") && a.flag("min-stages")) fail_input("plan: --stages and --min-stages exclude each other");

  PlanRequest req;
  const std::string method = a.str("method", "optimal");
  const auto m = method_parse(method);
  if (!m) fail_input("plan: --method '", method, "' is not one of uniform, params, optimal");
  req.method = *m;
  if (a.has("stages")) req.stages = positive(a, "stages", 1);
  req.replicas = positive(a, "replicas", 1);
  const std::string mode = a.str("mode", "forward");
  const auto md = mode_parse(mode);
  if (!md) fail_input("plan: --mode '", mode, "' is not one of forward, generate");
  Workload& w = req.workload;
  w.mode = *md;
  if (w.mode == Mode::Forward && a.has("max-new-tokens")) fail_input("plan: --max-new-tokens needs --mode generate");
  // Without --micro-batches the planner takes as many as stages, so that the pipeline can fill.
  if (a.has("micro-batches")) req.micro_batches = positive(a, "micro-batches", 1);
  if (a.has("batch")) req.batch = positive(a, "batch", 1);
  w.prompt_len = positive(a, "prompt-len", 128);
  w.max_new_tokens = w.mode == Mode::Generate ? positive(a, "max-new-tokens", 32) : 0;
  if (a.has("dtype")) {
    const auto t = dtype_parse(a.str("dtype", ""));
    if (!t) fail_input("plan: --dtype '", a.str("dtype", ""), "' is not one of f32, f16, bf16");
    req.dtype = *t;
  }
  std::optional<Profile> profile;
  if (a.has("profile")) profile = profile_load(a.str("profile", ""));
  req.profile = profile ? &*profile : nullptr;

  // The plan names the model relative to its own folder, so plan and model can move together.
  const std::string out = a.str("out", "");
  namespace fs = std::filesystem;
  const fs::path out_dir = out.empty() ? fs::current_path() : fs::absolute(out).parent_path();
  req.model = fs::absolute(model_dir).lexically_normal().lexically_proximate(out_dir).string();

  const PlanResult r = plan_make(spec, cluster, req);
  const PlanContext ctx(r.plan, spec, cluster, req.profile);
  std::printf("plan: %s (%s, %d layers) on '%s', method %s\n", model_dir.c_str(), spec.model_type.c_str(), spec.num_layers(),
              cluster.name.c_str(), method_name(req.method));
  std::fputs(plan_table(r.plan, spec, &ctx, &r.estimate).c_str(), stdout);
  std::fputs(plan_summary(r.plan, r.estimate).c_str(), stdout);
  print_lines(r.notes, "note: ");
  if (a.flag("simulate")) std::fputs(plan_timeline(r.estimate).c_str(), stdout);
  if (!out.empty()) {
    plan_write(r.plan, out);
    std::printf("wrote %s\n", out.c_str());
  }
  return 0;
}

}  // namespace

int cmd_plan(const std::vector<std::string>& args) {
  const Args a("plan", args, kOptions);
  if (a.flag("help")) {
    std::fputs(a.usage().c_str(), stdout);
    return 0;
  }
  return a.has("check") ? run_check(a) : run_plan(a);
}

}  // namespace ps::cli
