#include "runtime/bench/measure.h"

#include <algorithm>
#include <array>
#include <functional>
#include <map>

#include "partitioner/topology.h"
#include "runtime/core/error.h"

namespace ps {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double x = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(x);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (x - static_cast<double>(lo));
}

namespace {

// One rank's events on a common clock (seconds since the earliest rank's start), found by
// (op, round, micro-batch): each instruction runs once per round and micro-batch.
struct RankTimeline {
  const RankRecord* rank = nullptr;
  double offset = 0;
  std::map<std::array<int, 3>, const InstructionEvent*> at;

  const InstructionEvent* find(InstrKind op, int round, int mb) const {
    const auto it = at.find({static_cast<int>(op), round, mb});
    return it == at.end() ? nullptr : it->second;
  }
  double start(const InstructionEvent& e) const { return offset + e.start_s; }
  double end(const InstructionEvent& e) const { return offset + e.end_s; }
};

std::vector<RankTimeline> timelines(const std::vector<RankRecord>& ranks) {
  double t0 = ranks.front().start_unix_s;
  for (const RankRecord& r : ranks) t0 = std::min(t0, r.start_unix_s);
  std::vector<RankTimeline> out(ranks.size());
  for (size_t i = 0; i < ranks.size(); ++i) {
    out[i].rank = &ranks[i];
    out[i].offset = ranks[i].start_unix_s - t0;  // subtract first: doubles near 1.8e9 s keep only ~0.4 us
    for (const InstructionEvent& e : ranks[i].events) out[i].at[{static_cast<int>(e.op), e.round, e.mb}] = &e;
  }
  return out;
}

// TTFT and TPOT samples of one replica (see measure.h).
void latencies(const RankTimeline& first, const RankTimeline& last, const MeasureSpec& spec, std::vector<double>& ttft,
               std::vector<double>& tpot) {
  const bool generate = spec.mode == Mode::Generate;
  const int64_t mb_seqs = (spec.batch + spec.micro_batches - 1) / spec.micro_batches;
  const InstrKind done = generate ? InstrKind::Sample : InstrKind::Output;
  auto starts_sequences = [&](const InstructionEvent& load) {
    return !generate || load.round == 0 || load.rows > mb_seqs;
  };
  std::map<int, const InstructionEvent*> previous;  // micro-batch -> its last T with rows
  for (const InstructionEvent& e : last.rank->events) {
    if (e.op != done || e.rows == 0) continue;
    const InstructionEvent* load = first.find(InstrKind::Load, e.round, e.mb);
    if (!load) continue;  // a round the first stage did not load (cannot happen in a complete run)
    if (starts_sequences(*load)) {
      ttft.push_back(last.end(e) - first.start(*load));
    } else if (const auto it = previous.find(e.mb); it != previous.end() && it->second->round == e.round - 1) {
      tpot.push_back(last.end(e) - last.end(*it->second));
    }
    previous[e.mb] = &e;
  }
}

// One-way times of the messages from `from` to `to` whose receiver was waiting first.
void transfers(const RankTimeline& from, const RankTimeline& to, std::vector<double>& out) {
  for (const InstructionEvent& s : from.rank->events) {
    if (!op_is_send(s.op) || s.rows == 0) continue;
    // Tokens sampled in round r are received at the start of round r + 1 (schedule.h).
    const bool tokens = s.op == InstrKind::SendTokens;
    const InstructionEvent* r = to.find(tokens ? InstrKind::RecvTokens : InstrKind::RecvAct, s.round + (tokens ? 1 : 0), s.mb);
    if (r && to.start(*r) <= from.start(s)) out.push_back(to.end(*r) - from.start(s));
  }
}

}  // namespace

RunMeasure measure_run(const std::vector<RankRecord>& ranks, const MeasureSpec& spec) {
  if (ranks.empty()) fail_input("measure: no ranks");
  const std::vector<RankTimeline> tl = timelines(ranks);
  const int P = rank_records_stages(ranks);
  const int R = static_cast<int>(ranks.size()) / P;
  if (R * P != static_cast<int>(ranks.size()))
    fail_input("measure: ", ranks.size(), " ranks are not replicas of ", P, " stages");
  const Topology topo = topology_make(R, P);  // the records are sorted by rank (rank_records_read)

  RunMeasure m;
  double first = 0, last = 0;
  bool any = false;
  for (const RankTimeline& t : tl)
    for (const InstructionEvent& e : t.rank->events) {
      first = any ? std::min(first, t.start(e)) : t.start(e);
      last = any ? std::max(last, t.end(e)) : t.end(e);
      any = true;
    }
  m.makespan_s = last - first;

  const double waves = static_cast<double>(spec.requests) / static_cast<double>(spec.batch * R);
  std::vector<double> ttft, tpot;
  std::vector<std::vector<double>> xfer(static_cast<size_t>(P)), waits(static_cast<size_t>(P));
  std::vector<uint64_t> messages(static_cast<size_t>(P), 0);
  m.stages.assign(static_cast<size_t>(P), StageMeasure{});
  double busy_all = 0;
  for (const RankTimeline& t : tl) {
    const RankRecord& r = *t.rank;
    StageMeasure& s = m.stages[static_cast<size_t>(r.stage)];
    double busy = 0;
    for (const InstructionEvent& e : r.events) {
      if (op_is_compute(e.op)) busy += e.end_s - e.start_s;
      if (op_is_send(e.op)) ++messages[static_cast<size_t>(r.stage)];
      if (op_is_recv(e.op) && e.rows > 0 && !(e.round == 0 && e.mb == 0))
        waits[static_cast<size_t>(r.stage)].push_back(e.end_s - e.start_s);
    }
    busy_all += busy;
    s.busy_s += busy / R;
    s.bytes_sent += r.transport.bytes_sent;
    s.peak_rss_bytes = std::max(s.peak_rss_bytes, r.peak_rss_bytes);
    s.load_s = std::max(s.load_s, r.load_s);
    const PipelinePeers peers = pipeline_peers(topo, rank_of(topo, r.replica, r.stage));
    if (r.stage == 0) latencies(t, tl[static_cast<size_t>(peers.last)], spec, ttft, tpot);
    // Where its messages go: activations to the next stage, the last stage's tokens to the first.
    const int to = r.stage < P - 1 ? peers.next : peers.first;
    if (P > 1 && (r.stage < P - 1 || spec.mode == Mode::Generate))
      transfers(t, tl[static_cast<size_t>(to)], xfer[static_cast<size_t>(r.stage)]);
  }
  for (size_t i = 0; i < m.stages.size(); ++i) {
    StageMeasure& s = m.stages[i];
    if (m.makespan_s > 0) s.busy_fraction = s.busy_s / m.makespan_s;
    if (waves > 0) s.time_per_mb_s = s.busy_s / (spec.micro_batches * waves);
    if (messages[i] > 0) s.bytes_per_message = static_cast<double>(s.bytes_sent) / static_cast<double>(messages[i]);
    s.transfer_s = percentile(xfer[i], 50);
    if (s.transfer_s > 0) s.bandwidth = s.bytes_per_message / s.transfer_s;
    s.recv_wait_s = percentile(waits[i], 50);
  }
  if (m.makespan_s > 0) {
    m.bubble = 1.0 - busy_all / (static_cast<double>(ranks.size()) * m.makespan_s);
    m.sequences_per_s = static_cast<double>(spec.requests) / m.makespan_s;
    m.tokens_per_s = static_cast<double>(spec.tokens) / m.makespan_s;
  }
  m.ttft_p50_s = percentile(ttft, 50);
  m.ttft_p99_s = percentile(ttft, 99);
  m.tpot_p50_s = percentile(tpot, 50);
  m.tpot_p99_s = percentile(tpot, 99);
  return m;
}

RunMeasure measure_median(const std::vector<RunMeasure>& runs) {
  if (runs.empty()) return {};
  RunMeasure m = runs.front();
  auto med = [&](auto get) {
    std::vector<double> v;
    for (const RunMeasure& r : runs) v.push_back(static_cast<double>(get(r)));
    return percentile(std::move(v), 50);
  };
  m.makespan_s = med([](const RunMeasure& r) { return r.makespan_s; });
  m.sequences_per_s = med([](const RunMeasure& r) { return r.sequences_per_s; });
  m.tokens_per_s = med([](const RunMeasure& r) { return r.tokens_per_s; });
  m.bubble = med([](const RunMeasure& r) { return r.bubble; });
  m.ttft_p50_s = med([](const RunMeasure& r) { return r.ttft_p50_s; });
  m.ttft_p99_s = med([](const RunMeasure& r) { return r.ttft_p99_s; });
  m.tpot_p50_s = med([](const RunMeasure& r) { return r.tpot_p50_s; });
  m.tpot_p99_s = med([](const RunMeasure& r) { return r.tpot_p99_s; });
  for (size_t i = 0; i < m.stages.size(); ++i) {
    for (const RunMeasure& r : runs) PS_CHECK(r.stages.size() == m.stages.size(), "runs of different stage counts");
    StageMeasure& s = m.stages[i];
    s.busy_s = med([&](const RunMeasure& r) { return r.stages[i].busy_s; });
    s.busy_fraction = med([&](const RunMeasure& r) { return r.stages[i].busy_fraction; });
    s.time_per_mb_s = med([&](const RunMeasure& r) { return r.stages[i].time_per_mb_s; });
    s.bytes_sent = static_cast<uint64_t>(med([&](const RunMeasure& r) { return r.stages[i].bytes_sent; }));
    s.bytes_per_message = med([&](const RunMeasure& r) { return r.stages[i].bytes_per_message; });
    s.transfer_s = med([&](const RunMeasure& r) { return r.stages[i].transfer_s; });
    s.bandwidth = med([&](const RunMeasure& r) { return r.stages[i].bandwidth; });
    s.recv_wait_s = med([&](const RunMeasure& r) { return r.stages[i].recv_wait_s; });
    s.peak_rss_bytes = static_cast<uint64_t>(med([&](const RunMeasure& r) { return r.stages[i].peak_rss_bytes; }));
    s.load_s = med([&](const RunMeasure& r) { return r.stages[i].load_s; });
  }
  return m;
}

}  // namespace ps
