#include "runtime/bench/trace.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "runtime/core/files.h"

namespace ps {

namespace {

Json metadata(const char* name, int pid, int tid, const Json& args) {
  return {{"name", name}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", args}};
}

}  // namespace

Json trace_from_ranks(const std::vector<RankRecord>& ranks) {
  double t0 = 0;
  for (size_t i = 0; i < ranks.size(); ++i) t0 = i == 0 ? ranks[i].start_unix_s : std::min(t0, ranks[i].start_unix_s);
  Json events = Json::array();
  for (const RankRecord& r : ranks) {
    events.push_back(metadata("process_name", r.rank, 0,
                              {{"name", str("rank ", r.rank, " (replica ", r.replica, ", stage ", r.stage, ")")}}));
    events.push_back(metadata("process_sort_index", r.rank, 0, {{"sort_index", r.rank}}));
    events.push_back(metadata("thread_name", r.rank, kTraceComputeTid, {{"name", "compute"}}));
    events.push_back(metadata("thread_name", r.rank, kTraceCommTid, {{"name", "communication"}}));
    // Microseconds keep sub-microsecond digits: trace viewers take fractional timestamps.
    const double offset_us = (r.start_unix_s - t0) * 1e6;
    for (const InstructionEvent& e : r.events)
      events.push_back({{"name", op_code(e.op)},
                        {"cat", op_is_compute(e.op) ? "compute" : "comm"},
                        {"ph", "X"},
                        {"ts", offset_us + e.start_s * 1e6},
                        {"dur", (e.end_s - e.start_s) * 1e6},
                        {"pid", r.rank},
                        {"tid", op_is_compute(e.op) ? kTraceComputeTid : kTraceCommTid},
                        {"args", {{"mb", e.mb}, {"round", e.round}, {"rows", e.rows}}}});
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}, {"otherData", {{"start_unix_s", t0}}}};
}

void trace_write_from_metrics(const std::string& metrics_dir, const std::string& out) {
  file_write_atomic(out, trace_from_ranks(rank_records_read(metrics_dir)).dump());
}

}  // namespace ps
