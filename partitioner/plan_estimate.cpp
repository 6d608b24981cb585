#include "partitioner/plan_estimate.h"

#include <algorithm>
#include <cmath>

#include "partitioner/saturate.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

// Simulating every decode round of a very long generation costs more than it tells: beyond this
// many, the simulated rounds sample the contexts evenly and the makespan is scaled.
constexpr int64_t kMaxSimulatedDecodeRounds = 1024;

const DeviceSpec& find_device(const ClusterSpec& cluster, const StagePlan& s, size_t i) {
  const std::string where = json_path("stages", i);
  if (s.node < 0 || s.node >= static_cast<int>(cluster.nodes.size()))
    fail_input(where, ".node: node ", s.node, " is not in cluster '", cluster.name, "' (nodes 0-", cluster.nodes.size() - 1, ")");
  const DeviceSpec* d = cluster_find(cluster, s.node, s.device);
  if (!d) {
    std::string have;
    for (const auto& x : cluster.nodes[static_cast<size_t>(s.node)].devices) have += (have.empty() ? "" : ", ") + x.device.str();
    fail_input(where, ".device: ", cluster.nodes[static_cast<size_t>(s.node)].name, " has no ", s.device.str(), " (it has ",
               have, ")");
  }
  return *d;
}

}  // namespace

PlanContext::PlanContext(const Plan& plan, const ModelSpec& spec, const ClusterSpec& cluster, const Profile* profile) {
  const int P = plan.num_stages();
  // Stages (of every replica) per physical device.
  std::map<std::pair<int, std::string>, int> sharing;
  for (int r = 0; r < plan_world_size(plan); ++r) {
    const RankPlacement rp = plan_rank_placement(plan, r);
    ++sharing[{rp.node, rp.device.str()}];
  }
  int measured = 0;
  for (int s = 0; s < P; ++s) {
    const StagePlan& sp = plan.stages[static_cast<size_t>(s)];
    StageContext c;
    c.device = &find_device(cluster, sp, static_cast<size_t>(s));
    c.label = cluster_device_label(cluster, sp.node, sp.device);
    c.dtype = plan.stage_dtype(static_cast<size_t>(s));
    c.sharing = sharing[{sp.node, sp.device.str()}];
    double cores_worth = 1.0;  // CPU: the cores this stage effectively has
    if (sp.device.is_cpu()) {
      const double cores = c.device->cores;
      c.threads = sp.threads > 0 ? sp.threads : std::max(1, c.device->cores / c.sharing);
      cores_worth = std::min(static_cast<double>(c.threads), cores / c.sharing);
      c.share = cores_worth / cores;
    } else {
      c.share = 1.0 / c.sharing;
    }
    const DType act = activation_dtype(*c.device, c.dtype);
    auto it = models_.find({c.dtype, act});
    if (it == models_.end()) it = models_.emplace(std::make_pair(c.dtype, act), cost_model_build(spec, plan.workload, c.dtype, act)).first;
    c.model = &it->second;
    c.clock.rate = device_rate(*c.device, c.dtype, c.share);
    if (profile && profile_applies_to(*profile, *c.device)) {
      if (!times_) times_ = std::make_unique<ProfileTimes>(profile_select(*profile, spec, plan.workload, c.dtype));
      c.clock.measured_pass = &times_->pass;
      c.clock.measured_decode = &times_->decode;
      // Linear in threads (CPU) or in the GPU's share: an approximation the note admits.
      c.clock.measured_scale = sp.device.is_cpu() ? profile->threads / cores_worth : c.sharing;
      c.measured = true;
      ++measured;
    }
    c.capacity_bytes = c.device->usable_bytes() / c.sharing;
    stages.push_back(std::move(c));
  }
  for (int s = 0; s < P; ++s) {
    const StagePlan& a = plan.stages[static_cast<size_t>(s)];
    const StagePlan& b = plan.stages[static_cast<size_t>(s + 1 < P ? s + 1 : 0)];
    StageContext& c = stages[static_cast<size_t>(s)];
    c.next_link = cluster_link(cluster, a.node, a.device, b.node, b.device);
    if (c.measured && profile->send && a.node == b.node && a.device == b.device) c.next_link = *profile->send;
  }
  if (profile) {
    if (measured == 0)
      fail_input(profile->path, ": measured on ", profile->device.str(), " '", profile->device_model,
                 "', but no stage runs on such a device (a profile applies to devices of the same kind and \"model\")");
    notes.push_back(str("measured per-layer times (", profile->path, ") for ", measured, " of ", P,
                        " stages; the others use the roofline"));
    if (!times_->note.empty()) notes.push_back(times_->note);
  }
  for (int s = 0; s < P; ++s) {
    const StageContext& c = stages[static_cast<size_t>(s)];
    if (plan.stages[static_cast<size_t>(s)].device.is_cpu() && c.sharing > 1)
      notes.push_back(str("stage ", s, " shares ", c.label, " (", c.device->cores, " cores) with ", c.sharing - 1,
                          " other stage(s): ", c.threads, " thread(s), ", static_cast<int>(std::lround(c.share * 100)), "% of its FLOP/s, ",
                          "bandwidth and memory"));
  }
}

StageEstimate stage_estimate(const StageContext& c, const StagePlan& s, int stages, bool last) {
  StageEstimate e;
  const CostModel& m = *c.model;
  for (int l = s.first; l <= s.last; ++l) {
    const LayerCost& lc = m.layers.at(static_cast<size_t>(l));
    e.params += lc.params;
    e.weight_bytes = add_sat(e.weight_bytes, lc.weight_bytes);  // kBytesMax: past int64, fits nowhere
    e.kv_bytes = add_sat(e.kv_bytes, lc.kv_bytes);
    e.peak_bytes = std::max(e.peak_bytes, lc.peak_bytes);
    e.compute_s += c.clock.workload_time(m, l);
  }
  e.memory_bytes = add_sat(add_sat(e.weight_bytes, e.kv_bytes), e.peak_bytes);
  e.capacity_bytes = c.capacity_bytes;
  if (!last) e.send_s = send_workload_time(m, s.last, c.next_link);
  else if (stages > 1) e.send_s = tokens_workload_time(m, c.next_link);
  return e;
}

PlanEstimate plan_estimate(const Plan& plan, const PlanContext& ctx, bool simulate_it) {
  const int P = plan.num_stages(), M = plan.workload.micro_batches;
  PlanEstimate e;
  for (int s = 0; s < P; ++s) {
    e.stages.push_back(stage_estimate(ctx.stages[static_cast<size_t>(s)], plan.stages[static_cast<size_t>(s)], P, s == P - 1));
    const double cost = e.stages.back().compute_s + e.stages.back().send_s;
    if (cost > e.bottleneck_s) e.bottleneck_s = cost, e.bottleneck_stage = s;
  }
  if (!simulate_it) return e;

  const Workload& w = plan.workload;
  // The rounds, and the decode context of each (decode round k processes position L + k - 1 and
  // attends to L + k positions).
  std::vector<int64_t> ctx_of;
  double scale = 1.0;
  if (w.mode == Mode::Forward) {
    e.rounds = {RoundKind::Forward};
    ctx_of = {w.prompt_len};
  } else {
    const int64_t decode = w.max_new_tokens - 1, simulated = std::min(decode, kMaxSimulatedDecodeRounds);
    e.rounds.push_back(RoundKind::Prefill);
    ctx_of.push_back(w.prompt_len);
    for (int64_t j = 0; j < simulated; ++j) {
      e.rounds.push_back(RoundKind::Decode);
      ctx_of.push_back(w.prompt_len + 1 + (simulated == decode ? j : j * decode / simulated));
    }
    e.rounds.push_back(RoundKind::Drain);
    ctx_of.push_back(0);
    scale = static_cast<double>(1 + decode) / static_cast<double>(1 + simulated);
  }

  TimedProgram prog;
  prog.ops.resize(static_cast<size_t>(P));
  prog.seconds.resize(static_cast<size_t>(P));
  e.round_start.resize(static_cast<size_t>(P));
  prog.record_until.resize(static_cast<size_t>(P));
  for (int s = 0; s < P; ++s) {
    const StageContext& c = ctx.stages[static_cast<size_t>(s)];
    const StagePlan& sp = plan.stages[static_cast<size_t>(s)];
    const CostModel& m = *c.model;
    for (size_t r = 0; r < e.rounds.size(); ++r) {
      const RoundKind kind = e.rounds[r];
      e.round_start[static_cast<size_t>(s)].push_back(static_cast<int>(prog.ops[static_cast<size_t>(s)].size()));
      double forward = 0.0;
      if (kind != RoundKind::Drain)
        for (int l = sp.first; l <= sp.last; ++l) forward += c.clock.round_time(m, l, kind, ctx_of[r]);
      for (const Instruction& ins : make_schedule(kind, s, P, M)) {
        double t = 0.0;
        switch (ins.op) {
          case InstrKind::Forward: t = forward; break;
          case InstrKind::Sample: t = roofline_time(m.sample, c.clock.rate) - c.clock.rate.overhead; break;
          case InstrKind::SendAct: t = send_round_time(m, sp.last, kind, c.next_link); break;
          case InstrKind::SendTokens: t = link_time(c.next_link, static_cast<double>(m.token_bytes)); break;
          case InstrKind::Load: case InstrKind::Output: case InstrKind::RecvAct: case InstrKind::RecvTokens: break;
        }
        prog.ops[static_cast<size_t>(s)].push_back(ins);
        prog.seconds[static_cast<size_t>(s)].push_back(t);
      }
      if (r < static_cast<size_t>(kTimelineRounds)) prog.record_until[static_cast<size_t>(s)] = prog.ops[static_cast<size_t>(s)].size();
    }
  }
  e.sim = simulate(prog);
  e.sim.makespan *= scale;
  for (double& b : e.sim.busy) b *= scale;
  const double seqs = static_cast<double>(plan.replicas) * static_cast<double>(w.batch);
  if (e.sim.makespan > 0.0) {
    e.sequences_per_s = seqs / e.sim.makespan;
    e.tokens_per_s = e.sequences_per_s * static_cast<double>(w.tokens_per_sequence());
  }
  return e;
}

PlanPredictions plan_predictions(const PlanEstimate& e, const std::string& method, const std::string& cluster,
                                 bool profiled) {
  PlanPredictions p;
  p.method = method;
  p.cluster = cluster;
  p.profiled = profiled;
  p.bottleneck_s = e.bottleneck_s;
  p.makespan_s = e.sim.makespan;
  p.sequences_per_s = e.sequences_per_s;
  p.tokens_per_s = e.tokens_per_s;
  p.bubble = e.sim.bubble;
  for (size_t s = 0; s < e.stages.size(); ++s) {
    const StageEstimate& x = e.stages[s];
    p.stages.push_back({x.params, x.memory_bytes, x.capacity_bytes, x.compute_s, x.send_s,
                        s < e.sim.busy.size() ? e.sim.busy[s] : 0.0});
  }
  return p;
}

}  // namespace ps
