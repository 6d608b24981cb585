// What one rank measured during a run, written as <dir>/rank<N>.json when the worker is given
// --metrics-dir: every instruction with its start and end, the transport's byte counters, the
// peak resident memory and the load time. `pipeshard bench` and the trace merge these files.
#pragma once

#include <string>

#include "runtime/comm/transport.h"
#include "runtime/pipeline/executor.h"

namespace ps {

struct RankMetrics {
  int rank = 0, replica = 0, stage = 0;
  double load_s = 0;
  uint64_t weight_bytes = 0;
  TransportStats transport;
};

// Peak resident set (VmHWM) of this process in bytes; 0 where /proc is not there.
uint64_t process_peak_rss_bytes();
void rank_metrics_write(const std::string& dir, const RankMetrics& m, const StageExecutor& exec);

}  // namespace ps
