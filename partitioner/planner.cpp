#include "partitioner/planner.h"

#include <algorithm>
#include <limits>

#include "partitioner/partition.h"
#include "partitioner/plan_validate.h"
#include "partitioner/saturate.h"
#include "partitioner/units.h"
#include "runtime/core/error.h"

namespace ps {

const char* method_name(Method m) {
  switch (m) {
    case Method::Uniform: return "uniform";
    case Method::Params: return "params";
    case Method::Optimal: return "optimal";
  }
  return "?";
}

std::optional<Method> method_parse(std::string_view s) {
  for (Method m : {Method::Uniform, Method::Params, Method::Optimal})
    if (s == method_name(m)) return m;
  return std::nullopt;
}

namespace {

// The devices replica 0 may use, in order: each node's CPU, and its first floor(G / R) GPUs.
std::vector<DeviceSlot> replica_pool(const ClusterSpec& cluster, int replicas) {
  std::vector<DeviceSlot> pool;
  for (size_t n = 0; n < cluster.nodes.size(); ++n) {
    const auto& devs = cluster.nodes[n].devices;
    const int gpus = static_cast<int>(std::count_if(devs.begin(), devs.end(), [](const DeviceSpec& d) { return !d.device.is_cpu(); }));
    int taken = 0;
    for (const auto& d : devs) {
      if (!d.device.is_cpu() && taken++ >= gpus / replicas) continue;
      pool.push_back({static_cast<int>(n), &d});
    }
  }
  return pool;
}

Plan skeleton(const ModelSpec& spec, const ClusterSpec& cluster, const PlanRequest& req, int stages) {
  Plan plan;
  plan.model = req.model;
  plan.dtype = req.dtype.value_or(spec.dtype);
  plan.replicas = req.replicas;
  plan.workload = req.workload;
  Workload& w = plan.workload;
  w.micro_batches = req.micro_batches.value_or(static_cast<int>(std::min<int64_t>(stages, req.batch.value_or(stages))));
  w.batch = req.batch.value_or(w.micro_batches);
  if (w.batch < w.micro_batches)
    fail_input("--batch ", w.batch, " cannot fill ", w.micro_batches, " micro-batches (--batch is the sequences per round)");
  for (const DeviceSlot& slot : planner_slots(cluster, stages, req.replicas)) {
    StagePlan s;
    s.device = slot.spec->device;
    s.node = slot.node;
    plan.stages.push_back(s);
  }
  return plan;
}

// The partition problem of a placed plan: the stages' clocks, links and memory. Weights, KV cache
// and transients are taken as the largest over the stages' cost models (they differ only where
// CPU stages keep activations in f32 beside GPU stages): safe, and exact in the usual case.
PartitionProblem make_problem(const PlanContext& ctx, int layers, bool with_times) {
  PartitionProblem p;
  p.layers = layers;
  const int P = static_cast<int>(ctx.stages.size());
  p.held.assign(static_cast<size_t>(layers) + 1, 0);
  p.peak.assign(static_cast<size_t>(layers), 0);
  for (int i = 0; i < layers; ++i) {
    int64_t held = 0;
    for (const auto& c : ctx.stages) {
      const LayerCost& lc = c.model->layers[static_cast<size_t>(i)];
      held = std::max(held, add_sat(lc.weight_bytes, lc.kv_bytes));
      p.peak[static_cast<size_t>(i)] = std::max(p.peak[static_cast<size_t>(i)], lc.peak_bytes);
    }
    p.held[static_cast<size_t>(i) + 1] = add_sat(p.held[static_cast<size_t>(i)], held);  // kBytesMax: past int64
  }
  for (int s = 0; s < P; ++s) {
    const StageContext& c = ctx.stages[static_cast<size_t>(s)];
    p.capacity.push_back(c.capacity_bytes);
    std::vector<double> time(static_cast<size_t>(layers) + 1, 0.0), send(static_cast<size_t>(layers) + 1, 0.0);
    if (with_times) {
      const double tokens = P > 1 ? tokens_workload_time(*c.model, c.next_link) : 0.0;
      for (int i = 0; i < layers; ++i) {
        time[static_cast<size_t>(i) + 1] = time[static_cast<size_t>(i)] + c.clock.workload_time(*c.model, i);
        send[static_cast<size_t>(i) + 1] = s + 1 < P ? send_workload_time(*c.model, i, c.next_link) : tokens;
      }
    }
    p.time.push_back(std::move(time));
    p.send.push_back(std::move(send));
  }
  return p;
}

std::string fixes() {
  return "a smaller --dtype, fewer sequences per micro-batch (smaller --batch or more --micro-batches), "
         "or a shorter --prompt-len or --max-new-tokens";
}

// Why no split fits, and what would (called when partition_feasible is false).
[[noreturn]] void explain_infeasible(const ModelSpec& spec, const PlanContext& ctx, const PartitionProblem& p,
                                     const std::optional<int>& asked, bool can_add_stages) {
  const int P = p.stages();
  const std::string more = can_add_stages ? "use more stages, or " : "use more or larger devices, or ";
  size_t big = 0;
  for (size_t s = 1; s < ctx.stages.size(); ++s)
    if (ctx.stages[s].capacity_bytes > ctx.stages[big].capacity_bytes) big = s;
  const StageContext& largest = ctx.stages[big];
  const std::string room = str(format_gib(static_cast<double>(largest.capacity_bytes)), " for the model");
  for (int i = 0; i < p.layers; ++i) {
    // At least the layer's need (exactly, unless the held prefix saturated at this layer).
    const int64_t need = add_sat(p.held[static_cast<size_t>(i) + 1] - p.held[static_cast<size_t>(i)], p.peak[static_cast<size_t>(i)]);
    if (need > largest.capacity_bytes)
      fail_input("layer ", i, " (", spec.layers[static_cast<size_t>(i)].name, ") alone needs ", format_gib(static_cast<double>(need)),
                 "; ", largest.label, " (", largest.device->model, ") has ", room,
                 largest.sharing > 1 ? str(" (its share: ", largest.sharing, " stages on it)") : std::string(),
                 ": use larger devices, or ", fixes());
  }
  const bool same = std::all_of(ctx.stages.begin(), ctx.stages.end(), [&](const StageContext& c) {
    return c.capacity_bytes == largest.capacity_bytes && c.device->model == largest.device->model;
  });
  const int64_t total = p.held.back();
  if (same && largest.sharing == 1) {
    const auto need = partition_min_stages(p.held, p.peak, largest.capacity_bytes);
    const std::string have = asked ? str("--stages ", *asked, " asks for ", *asked)
                                   : str("the cluster offers ", P, " for ", ctx.stages.size() == 1 ? "one replica" : "each replica");
    fail_input("needs at least ", need ? *need : P + 1, " stages of ", largest.label, " (", largest.device->model, ", ", room,
               " each; the model needs ", format_gib(static_cast<double>(total)), " without transients); ", have,
               ": ", more, fixes());
  }
  int64_t cap = 0;
  for (const auto& c : ctx.stages) cap = add_sat(cap, c.capacity_bytes);
  fail_input("no split of the ", p.layers, " layers over these ", P, " stages (", ctx.stages.front().label, " ... ",
             ctx.stages.back().label, ", in order) fits in memory: the model needs ", format_gib(static_cast<double>(total)),
             " without transients and the stages offer ", format_gib(static_cast<double>(cap)), "; ", more, fixes());
}

Boundaries split(Method method, const ModelSpec& spec, const PlanContext& ctx, const PartitionProblem& p,
                 const std::optional<int>& asked, bool can_add_stages) {
  const int P = p.stages();
  Boundaries parts;
  if (method == Method::Optimal) {
    const auto r = partition_optimal(p);
    if (!r) explain_infeasible(spec, ctx, p, asked, can_add_stages);
    return r->parts;
  }
  if (method == Method::Uniform) {
    parts = partition_uniform(p.layers, P);
  } else {
    std::vector<double> params;
    for (const auto& l : ctx.stages.front().model->layers) params.push_back(static_cast<double>(l.params));
    parts = partition_balanced(params, P);
  }
  for (int s = 0; s < P; ++s) {
    const int a = parts[static_cast<size_t>(s)], b = parts[static_cast<size_t>(s) + 1];
    const int64_t need = stage_memory(p, a, b);
    if (need > p.capacity[static_cast<size_t>(s)])
      fail_input("--method ", method_name(method), ": stage ", s, " (layers ", a, "-", b - 1, ") needs ",
                 format_gib(static_cast<double>(need)), " but ", ctx.stages[static_cast<size_t>(s)].label, " has ",
                 format_gib(static_cast<double>(p.capacity[static_cast<size_t>(s)])),
                 " for the model; --method optimal places layers within every device's memory");
  }
  return parts;
}

}  // namespace

int planner_max_stages(const ClusterSpec& cluster, int replicas) {
  return static_cast<int>(replica_pool(cluster, replicas).size());
}

std::vector<DeviceSlot> planner_slots(const ClusterSpec& cluster, int stages, int replicas) {
  const std::vector<DeviceSlot> pool = replica_pool(cluster, replicas);
  if (stages <= static_cast<int>(pool.size())) return {pool.begin(), pool.begin() + stages};
  const int cpus = static_cast<int>(std::count_if(pool.begin(), pool.end(), [](const DeviceSlot& d) { return d.spec->device.is_cpu(); }));
  if (cpus == 0)
    fail_input("--stages ", stages, ": cluster '", cluster.name, "' has ", pool.size(), " GPU(s)",
               replicas > 1 ? str(" for each of ", replicas, " replicas") : std::string(),
               " and no CPU; the planner puts one stage per GPU");
  // Every GPU takes one stage; the CPUs share the rest, in order.
  const int extra = stages - static_cast<int>(pool.size());
  std::vector<DeviceSlot> out;
  int cpu_seen = 0;
  for (const DeviceSlot& d : pool) {
    const int n = d.spec->device.is_cpu() ? 1 + extra / cpus + (cpu_seen++ < extra % cpus ? 1 : 0) : 1;
    out.insert(out.end(), static_cast<size_t>(n), d);
  }
  return out;
}

PlanResult plan_make(const ModelSpec& spec, const ClusterSpec& cluster, const PlanRequest& req) {
  const int n = spec.num_layers();
  if (req.replicas < 1) fail_input("--replicas must be >= 1, got ", req.replicas);
  if (req.stages && (*req.stages < 1 || *req.stages > n))
    fail_input("--stages ", *req.stages, ": must be in 1..", n, " (the model has ", model_layers_summary(spec),
               "; a stage holds at least one)");
  if (planner_max_stages(cluster, req.replicas) == 0)
    fail_input("--replicas ", req.replicas, ": cluster '", cluster.name, "' has too few GPUs to give each replica one");
  PlanResult res;
  int P = req.stages.value_or(0);
  if (!req.stages) {
    // The fewest stages that fit: feasibility is not monotone in P for heterogeneous devices
    // in order, so try each count.
    const int most = std::min(n, planner_max_stages(cluster, req.replicas));
    for (int p = 1; p <= most && P == 0; ++p) {
      const Plan plan = skeleton(spec, cluster, req, p);
      const PlanContext ctx(plan, spec, cluster, req.profile);
      if (partition_feasible(make_problem(ctx, n, false))) P = p;
    }
    if (P == 0) {
      const Plan plan = skeleton(spec, cluster, req, most);
      const PlanContext ctx(plan, spec, cluster, req.profile);
      explain_infeasible(spec, ctx, make_problem(ctx, n, false), std::nullopt, false);
    }
    res.notes.push_back(str("fewest stages that fit: ", P, " (--stages N for more)"));
  }
  Plan plan = skeleton(spec, cluster, req, P);
  const PlanContext ctx(plan, spec, cluster, req.profile);
  const bool can_add = P < std::min(n, planner_max_stages(cluster, req.replicas));
  const Boundaries parts = split(req.method, spec, ctx, make_problem(ctx, n, true), req.stages, can_add);
  for (int s = 0; s < P; ++s) {
    StagePlan& sp = plan.stages[static_cast<size_t>(s)];
    sp.first = parts[static_cast<size_t>(s)];
    sp.last = parts[static_cast<size_t>(s) + 1] - 1;
    // Written out, so that the runtime gives each CPU stage the threads it was costed with
    // without knowing the cluster.
    if (sp.device.is_cpu()) sp.threads = ctx.stages[static_cast<size_t>(s)].threads;
  }
  // The planner's plan passes the same validation as a hand-written one.
  for (auto& w : plan_validate(plan, spec, &cluster, "planned", req.profile)) res.notes.push_back(w);
  res.estimate = plan_estimate(plan, ctx);
  plan.predictions = plan_predictions(res.estimate, method_name(req.method), cluster.name, req.profile != nullptr);
  res.notes.insert(res.notes.end(), ctx.notes.begin(), ctx.notes.end());
  res.plan = std::move(plan);
  return res;
}

}  // namespace ps
