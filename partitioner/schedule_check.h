// Checks that the lists of every rank of a pipeline pair each send with a receive, before anything
// runs (after PyTorch pipelining's _simulate_comms_compute). It executes the lists in lock-step:
// at every step each rank runs its next instruction if it can (a receive can when the matching
// message was posted at an earlier step); messages between two ranks match in posting order. The
// first problem stops it: a receive whose next message is another micro-batch or kind
// (misordered), ranks that all wait (deadlock: a receive whose send never comes), a message left
// unreceived at the end, or an instruction before the one it depends on within its rank (out of
// order: Forward(mb) needs a Load or RECV_F of mb; SEND_F, Output and Sample need Forward(mb);
// SEND_T needs Sample(mb)). The report carries the step x rank grid with the faulty cell marked.
#pragma once

#include <string>
#include <vector>

#include "partitioner/schedule.h"

namespace ps {

struct ScheduleCheck {
  bool ok = true;
  std::string error;  // the first problem, in words; empty when ok
  int step = -1;      // the faulty cell
  int rank = -1;
  std::string grid;   // the grid around the faulty step, the cell marked *like this*
};

// ranks[r] is rank r's list; peers are indices into `ranks` (the stages of one replica).
ScheduleCheck schedule_check(const std::vector<std::vector<Instruction>>& ranks);

// The whole lock-step grid of a schedule that passes the check (golden tests, --simulate -v):
// one line per step, one column per rank, an empty cell where a rank waits or has finished.
std::string schedule_grid(const std::vector<std::vector<Instruction>>& ranks);

}  // namespace ps
