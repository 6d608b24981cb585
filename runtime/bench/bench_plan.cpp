#include "runtime/bench/bench_plan.h"

#include <filesystem>
#include <thread>

#include "partitioner/plan_estimate.h"
#include "partitioner/plan_validate.h"
#include "runtime/core/error.h"

namespace ps {

namespace {

Workload workload_of(const BenchConfig& c) {
  Workload w;
  w.mode = c.mode;
  w.batch = c.batch_or_default();
  w.micro_batches = c.micro_batches;
  w.prompt_len = c.prompt_len;
  w.max_new_tokens = c.mode == Mode::Generate ? c.max_new_tokens : 0;
  if (w.batch < w.micro_batches)
    fail_input("batch ", w.batch, " cannot fill ", w.micro_batches, " micro-batches (", bench_config_str(c), ")");
  return w;
}

BenchPrediction prediction_of(const PlanEstimate& e, int micro_batches) {
  BenchPrediction p;
  p.valid = true;
  p.makespan_s = e.sim.makespan;
  p.sequences_per_s = e.sequences_per_s;
  p.tokens_per_s = e.tokens_per_s;
  p.bubble = e.sim.bubble;
  for (size_t s = 0; s < e.stages.size(); ++s) {
    p.time_per_mb_s.push_back(s < e.sim.busy.size() ? e.sim.busy[s] / micro_batches : 0.0);
    p.send_s.push_back(e.stages[s].send_s);
  }
  return p;
}

}  // namespace

int bench_stage_threads(const Plan& plan, size_t s) {
  if (plan.stages[s].threads > 0) return plan.stages[s].threads;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores / plan_world_size(plan));
}

BenchPlans bench_plans_make(const BenchSource& src, const BenchConfig& c) {
  BenchPlans out;
  const Workload w = workload_of(c);
  if (src.plan_path) {
    LoadedPlan lp = plan_load(*src.plan_path);
    if (c.stages != lp.plan.num_stages())
      fail_input("", *src.plan_path, " has ", lp.plan.num_stages(),
                 " stages; a stages sweep needs --model and --cluster");
    out.plan = std::move(lp.plan);
    out.plan.model = std::filesystem::absolute(lp.model_dir).lexically_normal().string();
    out.plan.workload = w;
    out.plan.predictions.reset();
    for (auto& n : plan_validate(out.plan, *src.spec, src.cluster, *src.plan_path, src.profile)) out.notes.push_back(n);
    if (src.cluster) {
      const PlanContext ctx(out.plan, *src.spec, *src.cluster, src.profile);
      out.predicted = prediction_of(plan_estimate(out.plan, ctx), w.micro_batches);
      out.notes.insert(out.notes.end(), ctx.notes.begin(), ctx.notes.end());
    }
  } else {
    PS_CHECK(src.cluster, "planning needs a cluster");
    PlanRequest req;
    req.model = std::filesystem::absolute(src.model_dir).lexically_normal().string();
    req.method = src.method;
    req.stages = c.stages;
    req.workload = w;
    req.micro_batches = w.micro_batches;
    req.batch = w.batch;
    req.profile = src.profile;
    PlanResult r = plan_make(*src.spec, *src.cluster, req);
    out.predicted = prediction_of(r.estimate, w.micro_batches);
    out.notes = std::move(r.notes);
    out.plan = std::move(r.plan);
  }
  out.reference = out.plan;
  out.reference.predictions.reset();
  StagePlan one = out.plan.stages.front();
  one.first = 0;
  one.last = src.spec->num_layers() - 1;
  one.threads = bench_stage_threads(out.plan, 0);
  out.reference.stages = {one};
  return out;
}

}  // namespace ps
