// What a pipeline run achieved, computed from its ranks' instruction events (rank_record.h) --
// the measured side of `pipeshard bench`, next to the planner's predicted side. Definitions
// (docs/bench/README.md repeats them):
//
//   makespan      first instruction start to last instruction end over all ranks (process start,
//                 rendezvous and weight loading are outside it; they are reported as load_s).
//   busy          per rank: the sum of its compute instructions' durations (L, F, O, T); a stage's
//                 figure is the mean over its replicas. busy fraction = busy / makespan.
//   bubble        1 - sum over ranks of busy / (ranks x makespan): the share of the ranks' time
//                 not spent computing, as the simulator defines it.
//   time per mb   busy / (M x waves), waves = requests / (batch x replicas): one micro-batch
//                 through the stage over the whole workload -- the planner's compute/mb.
//   TTFT          per micro-batch step that starts sequences: the last stage's end of O
//                 (forward) or T (generate, the first token sampled) minus the first stage's
//                 start of L, same round and micro-batch, same replica. Generation steps that
//                 start sequences are round 0 and every L with more rows than a micro-batch has
//                 sequences (prompt rows joined), which needs prompts of 2 tokens or more.
//   TPOT          generate: the time between the ends of two consecutive T of one micro-batch
//                 group on the last stage, over steps that start no sequence (inter-token latency).
//   transfer      per boundary (stage s -> s+1; the last stage's tokens -> stage 0): the one-way
//                 time of a micro-batch's messages, receive end minus send start, over the
//                 messages whose receiver was already waiting when the send was posted (for the
//                 others the arrival time is not observed); bandwidth = bytes per message / that.
//   recv wait     per stage: the median time its receives (RECV_F, or RECV_T on stage 0) of
//                 non-empty micro-batches blocked, the pipeline-filling first one excepted:
//                 communication the schedule did not hide behind compute, plus waiting for a
//                 slower producer.
//   Percentiles interpolate linearly between order statistics (numpy's default).
#pragma once

#include <cstdint>
#include <vector>

#include "partitioner/workload.h"
#include "runtime/bench/rank_record.h"

namespace ps {

struct MeasureSpec {
  Mode mode = Mode::Forward;
  int micro_batches = 1;
  int64_t batch = 1;     // sequences per round per replica
  int64_t requests = 1;  // in the run
  int64_t tokens = 0;    // generated (generate) or scored (forward) by the run, from its output
};

struct StageMeasure {
  double busy_s = 0, busy_fraction = 0, time_per_mb_s = 0;
  uint64_t bytes_sent = 0;  // to the next stage, all replicas
  double bytes_per_message = 0;
  double transfer_s = 0;        // median; 0 when no message was observed (see the top)
  double bandwidth = 0;         // bytes/s; 0 when transfer_s is
  double recv_wait_s = 0;       // median (see the top); 0 for a stage that receives nothing
  uint64_t peak_rss_bytes = 0;  // largest over replicas
  double load_s = 0;            // largest over replicas
};

struct RunMeasure {
  double makespan_s = 0, sequences_per_s = 0, tokens_per_s = 0, bubble = 0;
  double ttft_p50_s = 0, ttft_p99_s = 0, tpot_p50_s = 0, tpot_p99_s = 0;
  std::vector<StageMeasure> stages;
};

RunMeasure measure_run(const std::vector<RankRecord>& ranks, const MeasureSpec& spec);
// Field by field median of repeated runs (of the same configuration: same number of stages).
RunMeasure measure_median(const std::vector<RunMeasure>& runs);

// p in [0, 100]; linear interpolation; 0 for an empty sample.
double percentile(std::vector<double> v, double p);

}  // namespace ps
