#include "runtime/bench/bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace ps {

namespace {

using Cells = std::vector<std::string>;

std::string fmt(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}
// A figure that may be missing (0 = not measured / not predicted) as "-".
std::string opt(double v, int decimals, double scale = 1.0) { return v > 0 ? fmt(v * scale, decimals) : "-"; }
std::string pct(double v) { return fmt(v * 100, 1); }
// Measured against predicted, signed percent: "+4.2".
std::string delta(double measured, double predicted) {
  if (!(predicted > 0) || !(measured > 0)) return "-";
  const double d = (measured / predicted - 1) * 100;
  std::string out = d >= 0 ? "+" : "";
  out += fmt(d, 1);  // appended, not "+" + string&&: that trips g++ 12's -Wrestrict false positive
  return out;
}

// A Markdown table (so that a result pastes into a README), columns right-aligned.
std::string render(const Cells& head, const std::vector<Cells>& rows) {
  std::vector<size_t> w(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    w[c] = head[c].size();
    for (const Cells& r : rows) w[c] = std::max(w[c], r[c].size());
  }
  auto line = [&](const Cells& cells) {
    std::string s = "|";
    for (size_t c = 0; c < cells.size(); ++c) {
      s.append(w[c] - cells[c].size() + 1, ' ');
      s += cells[c];
      s += " |";
    }
    return s + "\n";
  };
  std::string out = line(head) + "|";
  for (size_t c = 0; c < head.size(); ++c) out += std::string(w[c] + 1, '-') + ":|";
  out += "\n";
  for (const Cells& r : rows) out += line(r);
  return out;
}

Json stage_json(const BenchRow& row, size_t s) {
  const StageMeasure& m = row.measured.stages[s];
  Json j = {{"stage", s},
            {"layers", s < row.layers.size() ? row.layers[s] : ""},
            {"threads", s < row.threads.size() ? row.threads[s] : 0},
            {"busy_s", m.busy_s},
            {"busy_fraction", m.busy_fraction},
            {"time_per_mb_s", m.time_per_mb_s},
            {"bytes_sent", m.bytes_sent},
            {"bytes_per_message", m.bytes_per_message},
            {"transfer_s", m.transfer_s},
            {"bandwidth_bytes_per_s", m.bandwidth},
            {"recv_wait_s", m.recv_wait_s},
            {"peak_rss_bytes", m.peak_rss_bytes},
            {"load_s", m.load_s}};
  if (row.predicted.valid && s < row.predicted.time_per_mb_s.size()) {
    j["predicted_time_per_mb_s"] = row.predicted.time_per_mb_s[s];
    j["predicted_send_s"] = row.predicted.send_s[s];
  }
  return j;
}

}  // namespace

Json bench_results_json(const std::vector<BenchRow>& rows, const Json& meta) {
  Json configs = Json::array();
  for (const BenchRow& r : rows) {
    const RunMeasure& m = r.measured;
    Json stages = Json::array();
    for (size_t s = 0; s < m.stages.size(); ++s) stages.push_back(stage_json(r, s));
    Json c = {{"mode", mode_name(r.config.mode)},
              {"stages", r.config.stages},
              {"micro_batches", r.config.micro_batches},
              {"batch", r.config.batch_or_default()},
              {"batch_default", r.config.batch == 0},  // one sequence per micro-batch: batch = M
              {"requests", r.config.requests_or_default()},
              {"prompt_len", r.config.prompt_len},
              {"max_new_tokens", r.config.max_new_tokens},
              {"replicas", r.replicas},
              {"dir", r.dir},
              {"measured",
               {{"makespan_s", m.makespan_s},
                {"tokens_per_s", m.tokens_per_s},
                {"sequences_per_s", m.sequences_per_s},
                {"bubble", m.bubble},
                {"ttft_p50_s", m.ttft_p50_s},
                {"ttft_p99_s", m.ttft_p99_s},
                {"tpot_p50_s", m.tpot_p50_s},
                {"tpot_p99_s", m.tpot_p99_s},
                {"runs_tokens_per_s", r.runs_tokens_per_s}}},
              {"reference_tokens_per_s", r.reference_tokens_per_s},
              {"wrong", r.wrong},
              {"per_stage", stages}};
    if (r.predicted.valid)
      c["predicted"] = {{"makespan_s", r.predicted.makespan_s},
                        {"tokens_per_s", r.predicted.tokens_per_s},
                        {"sequences_per_s", r.predicted.sequences_per_s},
                        {"bubble", r.predicted.bubble}};
    configs.push_back(c);
  }
  Json out = meta;
  out["configs"] = configs;
  return out;
}

std::string bench_results_csv(const std::vector<BenchRow>& rows) {
  std::string out =
      "mode,stages,micro_batches,batch,requests,prompt_len,max_new_tokens,tokens_per_s,predicted_tokens_per_s,"
      "sequences_per_s,makespan_s,bubble,predicted_bubble,ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,"
      "reference_tokens_per_s,wrong,stage,layers,threads,busy_fraction,time_per_mb_s,predicted_time_per_mb_s,"
      "bytes_sent,bytes_per_message,transfer_s,bandwidth_bytes_per_s,recv_wait_s,peak_rss_bytes\n";
  auto g = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.9g", v);
    return std::string(b);
  };
  for (const BenchRow& r : rows) {
    const RunMeasure& m = r.measured;
    const BenchPrediction& p = r.predicted;
    for (size_t s = 0; s < m.stages.size(); ++s) {
      const StageMeasure& x = m.stages[s];
      out += str(mode_name(r.config.mode), ",", r.config.stages, ",", r.config.micro_batches, ",",
                 r.config.batch_or_default(), ",", r.config.requests_or_default(), ",", r.config.prompt_len, ",",
                 r.config.max_new_tokens, ",", g(m.tokens_per_s), ",", p.valid ? g(p.tokens_per_s) : "", ",",
                 g(m.sequences_per_s), ",", g(m.makespan_s), ",", g(m.bubble), ",", p.valid ? g(p.bubble) : "", ",",
                 g(m.ttft_p50_s), ",", g(m.ttft_p99_s), ",", g(m.tpot_p50_s), ",", g(m.tpot_p99_s), ",",
                 g(r.reference_tokens_per_s), ",", r.wrong, ",", s, ",", s < r.layers.size() ? r.layers[s] : "", ",",
                 s < r.threads.size() ? r.threads[s] : 0, ",", g(x.busy_fraction), ",", g(x.time_per_mb_s), ",",
                 p.valid && s < p.time_per_mb_s.size() ? g(p.time_per_mb_s[s]) : "", ",", x.bytes_sent, ",",
                 g(x.bytes_per_message), ",", g(x.transfer_s), ",", g(x.bandwidth), ",", g(x.recv_wait_s), ",",
                 x.peak_rss_bytes, "\n");
    }
  }
  return out;
}

std::string bench_table(const std::vector<BenchRow>& rows) {
  std::vector<Cells> a, b;
  for (const BenchRow& r : rows) {
    const RunMeasure& m = r.measured;
    const BenchPrediction& p = r.predicted;
    a.push_back({mode_name(r.config.mode), str(r.config.stages), str(r.config.micro_batches),
                 str(r.config.batch_or_default()), str(r.config.requests_or_default()), fmt(m.tokens_per_s, 1),
                 p.valid ? fmt(p.tokens_per_s, 1) : "-", delta(m.tokens_per_s, p.tokens_per_s),
                 fmt(m.sequences_per_s, 2), opt(m.ttft_p50_s, 1, 1e3), opt(m.ttft_p99_s, 1, 1e3),
                 opt(m.tpot_p50_s, 2, 1e3), opt(m.tpot_p99_s, 2, 1e3), pct(m.bubble), p.valid ? pct(p.bubble) : "-",
                 opt(r.reference_tokens_per_s, 1), str(r.wrong)});
    for (size_t s = 0; s < m.stages.size(); ++s) {
      const StageMeasure& x = m.stages[s];
      const double pred = p.valid && s < p.time_per_mb_s.size() ? p.time_per_mb_s[s] : 0;
      b.push_back({str(r.config.stages), str(r.config.micro_batches), str(r.config.batch_or_default()), str(s),
                   s < r.layers.size() ? r.layers[s] : "?", s < r.threads.size() ? str(r.threads[s]) : "?",
                   pct(x.busy_fraction), fmt(x.time_per_mb_s * 1e3, 2), opt(pred, 2, 1e3), delta(x.time_per_mb_s, pred),
                   fmt(static_cast<double>(x.bytes_sent) / (1 << 20), 2), opt(x.bytes_per_message, 1, 1.0 / 1024),
                   opt(x.transfer_s, 3, 1e3), opt(x.bandwidth, 2, 1e-9), opt(x.recv_wait_s, 2, 1e3),
                   fmt(static_cast<double>(x.peak_rss_bytes) / (1 << 20), 0)});
    }
  }
  return render({"mode", "P", "M", "batch", "reqs", "tok/s", "pred tok/s", "vs pred %", "seq/s", "TTFT p50 ms",
                 "TTFT p99 ms", "TPOT p50 ms", "TPOT p99 ms", "bubble %", "pred bubble %", "1-stage tok/s", "wrong"},
                a) +
         "\n" +
         render({"P", "M", "batch", "stage", "layers", "threads", "busy %", "ms/mb", "pred ms/mb", "vs pred %",
                 "sent MiB", "KiB/msg", "xfer ms", "GB/s", "recv wait ms", "peak MiB"},
                b);
}

}  // namespace ps
