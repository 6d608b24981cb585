// One Chrome trace-event JSON for a whole run, merged from every rank's metrics (rank_record.h):
// it opens in Perfetto (ui.perfetto.dev) and chrome://tracing. Layout:
//   process (pid) = rank, named "rank R (replica r, stage s)";
//   thread 0 = compute (L, F, O, T), thread 1 = communication (SEND_*, RECV_*);
//   one complete event ("ph": "X") per executed instruction, named by its op code, with
//   args {mb, round, rows}; times in microseconds from the earliest rank's start.
// Ranks of one machine share its clock, so their timelines line up; across machines they are
// as aligned as the machines' clocks (NTP: about a millisecond).
#pragma once

#include <string>
#include <vector>

#include "runtime/bench/rank_record.h"

namespace ps {

// The thread an instruction is drawn on.
constexpr int kTraceComputeTid = 0;
constexpr int kTraceCommTid = 1;

Json trace_from_ranks(const std::vector<RankRecord>& ranks);
// Reads <metrics_dir>/rank*.json and writes the merged trace to `out` (atomically). For
// `pipeshard bench --trace` and `pipeshard run --trace`.
void trace_write_from_metrics(const std::string& metrics_dir, const std::string& out);

}  // namespace ps
