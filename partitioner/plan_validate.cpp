#include "partitioner/plan_validate.h"

#include <map>
#include <nlohmann/json.hpp>

#include "partitioner/plan_estimate.h"
#include "partitioner/saturate.h"
#include "partitioner/units.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

std::string range_str(int a, int b) { return a == b ? str("layer ", a) : str("layers ", a, "-", b); }
std::string unowned(int a, int b) { return range_str(a, b) + (a == b ? " belongs" : " belong") + " to no stage"; }

void check_coverage(const Plan& plan, const ModelSpec& spec) {
  const int n = spec.num_layers();
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    const StagePlan& s = plan.stages[i];
    const std::string where = json_path("stages", i) + ".layers";
    if (s.last >= n)
      fail_input(where, ": '", plan_layers_str(s), "' runs past the last layer ", n - 1, "; the model has ",
                 model_layers_summary(spec));
    if (i == 0) {
      if (s.first > 0)
        fail_input(where, ": ", unowned(0, s.first - 1), " (the first stage must start at layer 0)");
      continue;
    }
    const StagePlan& prev = plan.stages[i - 1];
    const std::string prev_where = json_path("stages", i - 1);
    if (s.first > prev.last + 1)
      fail_input(where, ": ", unowned(prev.last + 1, s.first - 1), " (", prev_where, " ends at layer ",
                 prev.last, ", ", json_path("stages", i), " starts at ", s.first, ")");
    if (s.first <= prev.last)
      fail_input(where, ": '", plan_layers_str(s), "' overlaps ", prev_where, " ('", plan_layers_str(prev), "') at ",
                 range_str(std::max(s.first, prev.first), std::min(s.last, prev.last)),
                 " (stages list consecutive layer ranges in pipeline order)");
  }
  const StagePlan& last = plan.stages.back();
  if (last.last < n - 1)
    fail_input(json_path("stages", plan.stages.size() - 1), ".layers: ", unowned(last.last + 1, n - 1),
               " (the last stage ends at layer ", last.last, "; the model has ", model_layers_summary(spec), ")");
}

void check_workload(const Workload& w, const ModelSpec& spec) {
  if (spec.family == Family::Mlp) {
    if (w.mode == Mode::Generate) fail_input("workload.mode: an mlp model only runs forward (it generates no tokens)");
    return;
  }
  const int64_t positions = w.prompt_len + (w.mode == Mode::Generate ? w.max_new_tokens : 0);
  if (spec.max_positions > 0 && positions > spec.max_positions)
    fail_input("workload: prompt_len ", w.prompt_len, w.mode == Mode::Generate ? str(" + max_new_tokens ", w.max_new_tokens) : "",
               " = ", positions, " positions exceed the model's context of ", spec.max_positions);
}

std::vector<std::string> check_sharing(const Plan& plan) {
  std::vector<std::string> warnings;
  for (size_t i = 0; i < plan.stages.size(); ++i)
    for (size_t j = 0; j < i; ++j) {
      const StagePlan &a = plan.stages[j], &b = plan.stages[i];
      if (a.device.is_cpu() || a.node != b.node || !(a.device == b.device)) continue;
      warnings.push_back(str(json_path("stages", i), ".device: stages ", j, " and ", i, " both run on node ", b.node, " ",
                             b.device.str(), "; NCCL cannot send from a GPU to itself, so that boundary goes through host memory"));
      break;
    }
  return warnings;
}

// Every physical device holds the memory of the stages (of all replicas) placed on it.
void check_cluster(const Plan& plan, const ModelSpec& spec, const ClusterSpec& cluster, const Profile* profile,
                   std::vector<std::string>& warnings) {
  const PlanContext ctx(plan, spec, cluster, profile);  // checks nodes and devices of replica 0
  struct Use {
    std::vector<int> stages;
    int64_t bytes = 0;
    int threads = 0;
    const DeviceSpec* spec = nullptr;
  };
  std::map<std::pair<int, std::string>, Use> uses;
  std::vector<StageEstimate> est;
  for (int s = 0; s < plan.num_stages(); ++s)
    est.push_back(stage_estimate(ctx.stages[static_cast<size_t>(s)], plan.stages[static_cast<size_t>(s)], plan.num_stages(),
                                 s == plan.num_stages() - 1));
  for (int r = 0; r < plan_world_size(plan); ++r) {
    const RankPlacement rp = plan_rank_placement(plan, r);
    const DeviceSpec* d = cluster_find(cluster, rp.node, rp.device);
    if (!d)
      fail_input("replicas: replica ", rp.replica, " of stages[", rp.stage, "] runs on ", cluster_device_label(cluster, rp.node, rp.device),
                 ", which cluster '", cluster.name, "' does not have (replica k runs a GPU stage on cuda:N + k * S, "
                 "S = 1 + the largest GPU index the stages use on that node)");
    Use& u = uses[{rp.node, rp.device.str()}];
    u.spec = d;
    if (rp.replica == 0) u.stages.push_back(rp.stage);
    u.bytes = add_sat(u.bytes, est[static_cast<size_t>(rp.stage)].memory_bytes);
    u.threads += ctx.stages[static_cast<size_t>(rp.stage)].threads;
  }
  for (const auto& [key, u] : uses) {
    const int64_t usable = u.spec->usable_bytes();
    if (u.bytes <= usable) {
      if (u.spec->device.is_cpu() && u.threads > u.spec->cores)
        warnings.push_back(str(cluster_device_label(cluster, key.first, u.spec->device), ": its stages run ", u.threads,
                               " threads on ", u.spec->cores, " cores (oversubscribed: they will slow each other down)"));
      continue;
    }
    const int s = u.stages.front();
    const StageEstimate& e = est[static_cast<size_t>(s)];
    std::string need = str("needs ", format_gib(static_cast<double>(e.memory_bytes)), " (weights ", format_gib(static_cast<double>(e.weight_bytes)),
                           ", KV cache ", format_gib(static_cast<double>(e.kv_bytes)), ", activations ",
                           format_gib(static_cast<double>(e.peak_bytes)), ")");
    if (u.stages.size() > 1 || plan.replicas > 1) {
      std::string list;
      for (int x : u.stages) list += (list.empty() ? "" : ", ") + std::to_string(x);
      need = str("together with the other stages on its device (stages ", list, plan.replicas > 1 ? " of every replica" : "",
                 ") needs ", format_gib(static_cast<double>(u.bytes)));
    }
    fail_input(json_path("stages", static_cast<size_t>(s)), ": does not fit in memory: ", need, "; ",
               cluster_device_label(cluster, key.first, u.spec->device), " (", u.spec->model, ") has ",
               format_gib(static_cast<double>(usable)), " for the model (", format_gib(static_cast<double>(u.spec->memory_bytes)),
               " less ", format_gib(static_cast<double>(u.spec->reserved_bytes)),
               " reserved); move layers to other stages, use more stages, or a smaller dtype, batch or prompt");
  }
}

}  // namespace

std::string model_layers_summary(const ModelSpec& spec) {
  const int n = spec.num_layers();
  if (spec.family == Family::Mlp || n < 3) return str(n, " layers (0-", n - 1, ")");
  return str(n, " layers (0: embedding, 1-", n - 2, ": blocks 0-", n - 3, ", ", n - 1, ": head)");
}

std::vector<std::string> plan_validate(Plan& plan, const ModelSpec& spec, const ClusterSpec* cluster,
                                       const std::string& file, const Profile* profile) {
  return with_context(file, [&] {
    if (!plan.dtype) plan.dtype = spec.dtype;
    check_coverage(plan, spec);
    check_workload(plan.workload, spec);
    std::vector<std::string> warnings = check_sharing(plan);
    if (cluster) check_cluster(plan, spec, *cluster, profile, warnings);
    return warnings;
  });
}

LoadedPlan plan_load(const std::string& path, const ClusterSpec* cluster, const Profile* profile) {
  LoadedPlan lp;
  lp.plan = plan_from_json(json_read_file(path), path);
  lp.model_dir = plan_model_dir(lp.plan, path);
  lp.spec = with_context(path + ": model", [&] { return model_spec_load(lp.model_dir); });
  lp.warnings = plan_validate(lp.plan, lp.spec, cluster, path, profile);
  return lp;
}

}  // namespace ps
