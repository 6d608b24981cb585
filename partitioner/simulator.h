// The simulator: interprets the schedules' instruction lists (schedule.h) against durations and
// predicts the timeline. Same semantics as the executor: a stage runs its list in order; a
// compute instruction occupies the stage for its duration; a send is posted without blocking the
// stage, and its message travels the link sender -> peer, which carries one message at a time in
// posting order; a receive completes when its message has arrived.
#pragma once

#include <vector>

#include "partitioner/schedule.h"

namespace ps {

// The lists to run, with a duration per instruction: compute time for a compute op, the time on
// the link (latency + bytes / bandwidth) for a send, ignored for a receive.
struct TimedProgram {
  std::vector<std::vector<Instruction>> ops;  // [stage][i]
  std::vector<std::vector<double>> seconds;   // [stage][i]
  // Events are kept for instructions [0, record_until[stage]) only (empty: all). A long
  // generation has millions of instructions; a timeline shows its first rounds.
  std::vector<size_t> record_until;
};

struct SimEvent {
  int stage = 0;  // the stage that ran it (for a transfer: the sender)
  int index = 0;  // position in the stage's list
  Instruction ins;
  double start = 0.0, end = 0.0;
};

struct SimResult {
  double makespan = 0.0;          // until the last instruction of any stage ends
  std::vector<double> busy;       // per stage: the sum of its compute instructions' durations
  std::vector<double> finish;     // per stage: when its last instruction ended
  double bubble = 0.0;            // 1 - sum(busy) / (stages * makespan)
  std::vector<SimEvent> compute;  // every compute instruction, per stage in list order
  std::vector<SimEvent> transfers;
};

// Throws a runtime error (with the step x rank grid) if the lists do not pass schedule_check.
SimResult simulate(const TimedProgram& program);

}  // namespace ps
