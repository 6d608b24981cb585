#include "partitioner/plan_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "partitioner/units.h"

namespace ps {
namespace {

// Left-aligned columns, two spaces apart.
std::string render(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], r[c].size());
    }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      std::string cell = r[c];
      if (c + 1 < r.size()) cell.resize(width[c] + 2, ' ');
      line += cell;
    }
    out += line + "\n";
  }
  return out;
}

std::string percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", f * 100.0);
  return buf;
}

char mb_char(int mb) {
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  return mb < 36 ? digits[mb] : '#';
}

}  // namespace

std::string plan_table(const Plan& plan, const ModelSpec& spec, const PlanContext* ctx, const PlanEstimate* est) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"stage", "node/device", "layers", "first..last", "params", "dtype"};
  if (est) for (const char* h : {"memory / capacity", "compute/mb", "send/mb", "busy"}) head.push_back(h);
  rows.push_back(head);
  for (size_t s = 0; s < plan.stages.size(); ++s) {
    const StagePlan& sp = plan.stages[s];
    int64_t params = 0;
    for (int l = sp.first; l <= sp.last && l < spec.num_layers(); ++l) params += spec.layers[static_cast<size_t>(l)].param_count();
    const std::string names = sp.last < spec.num_layers()
                                  ? spec.layers[static_cast<size_t>(sp.first)].name + ".." + spec.layers[static_cast<size_t>(sp.last)].name
                                  : "?";
    std::string device = ctx ? ctx->stages[s].label : str("node", sp.node, "/", sp.device.str());
    if (ctx && sp.device.is_cpu()) device += str(" (", ctx->stages[s].threads, "t)");
    std::vector<std::string> row = {std::to_string(s), device, plan_layers_str(sp), names, format_count(static_cast<double>(params)),
                                    dtype_name(plan.stage_dtype(s))};
    if (est) {
      const StageEstimate& e = est->stages[s];
      const double busy = est->sim.makespan > 0 && s < est->sim.busy.size() ? est->sim.busy[s] / est->sim.makespan : 0.0;
      row.push_back(str(format_gib(static_cast<double>(e.memory_bytes)), " / ", format_gib(static_cast<double>(e.capacity_bytes)),
                        " (", percent(static_cast<double>(e.memory_bytes) / static_cast<double>(std::max<int64_t>(1, e.capacity_bytes))), ")"));
      row.push_back(format_seconds(e.compute_s) + (ctx && ctx->stages[s].measured ? " (measured)" : ""));
      row.push_back(format_seconds(e.send_s));
      row.push_back(percent(busy));
    }
    rows.push_back(row);
  }
  return render(rows);
}

std::string plan_summary(const Plan& plan, const PlanEstimate& est) {
  const Workload& w = plan.workload;
  std::string out;
  if (w.mode == Mode::Generate)
    out += str("compute/mb and send/mb: one micro-batch over the whole generation (prefill + ", w.max_new_tokens - 1,
               " decode steps)\n");
  out += str("bottleneck: stage ", est.bottleneck_stage, ", ", format_seconds(est.bottleneck_s), " per micro-batch (compute + send)\n");
  out += str("workload: ", mode_name(w.mode), ", ", w.batch, " sequence(s) per round in ", w.micro_batches,
             " micro-batch(es) of ", w.micro_batch_size(), ", prompt ", w.prompt_len,
             w.mode == Mode::Generate ? str(", ", w.max_new_tokens, " new tokens") : std::string(), ", ", plan.replicas,
             " replica(s) of ", plan.num_stages(), " stage(s)\n");
  out += str("predicted: ", format_rate(est.sequences_per_s), " sequences/s, ", format_rate(est.tokens_per_s),
             w.mode == Mode::Generate ? " new tokens/s" : " prompt tokens/s", ", ",
             w.mode == Mode::Generate ? "whole generation " : "round ", format_seconds(est.sim.makespan), ", bubble ",
             percent(est.sim.bubble), " (1 - busy / (stages x makespan))\n");
  return out;
}

std::string plan_timeline(const PlanEstimate& est, int width) {
  // The window: the rounds whose events the estimate kept (the forward round, or the prefill and
  // the first decode rounds).
  double end = 0.0;
  for (const SimEvent& e : est.sim.compute) end = std::max(end, e.end);
  if (end <= 0.0) return "timeline: nothing to show (no compute time)\n";
  const double dt = end / width;
  std::vector<std::string> lines(est.round_start.size(), std::string(static_cast<size_t>(width), '.'));
  for (const SimEvent& e : est.sim.compute) {
    if (e.start >= end || e.end <= e.start) continue;
    const char c = e.ins.op == InstrKind::Forward ? mb_char(e.ins.mb) : e.ins.op == InstrKind::Sample ? 's' : '+';
    const int c0 = static_cast<int>(e.start / dt);
    const int c1 = std::max(c0 + 1, static_cast<int>(std::ceil(std::min(e.end, end) / dt - 1e-9)));
    for (int k = c0; k < std::min(c1, width); ++k) lines[static_cast<size_t>(e.stage)][static_cast<size_t>(k)] = c;
  }
  std::string out = str("timeline (", est.rounds.size() > 1 ? "prefill and first decode rounds" : "one round", ", ",
                        format_seconds(end), " wide, 1 char = ", format_seconds(dt),
                        "; 0-9a-z: Forward of that micro-batch, s: Sample, .: idle)\n");
  for (size_t s = 0; s < lines.size(); ++s) {
    char label[32];
    std::snprintf(label, sizeof label, "stage %2zu |", s);
    out += label + lines[s] + "|\n";
  }
  return out;
}

}  // namespace ps
