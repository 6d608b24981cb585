// One timed instruction of a stage's schedule: what the executor records when metrics are asked
// for (runtime/pipeline/rank_metrics.h writes them) and what the benchmark and the merged trace
// read back (runtime/bench). Plain data in a module of its own, so that neither side depends on
// the other.
#pragma once

#include <cstdint>

#include "partitioner/schedule.h"

namespace ps {

struct InstructionEvent {
  InstrKind op = InstrKind::Forward;
  int mb = 0;
  int round = 0;
  double start_s = 0, end_s = 0;  // since the executor started
  int64_t rows = 0;
};

}  // namespace ps
