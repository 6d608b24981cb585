// The benchmark's measured figures from hand-made rank records, against values computed by hand
// from the event times (measure.h defines each figure).
#include "runtime/bench/measure.h"

#include <gtest/gtest.h>

namespace ps {
namespace {

InstructionEvent ev(InstrKind op, int mb, int round, double start, double end, int64_t rows) {
  return InstructionEvent{op, mb, round, start, end, rows};
}

// Forward, 2 stages, 2 micro-batches of one sequence. Rank 1 starts 0.5 s after rank 0; the
// times in the comments are on rank 0's clock.
std::vector<RankRecord> forward_two_stages() {
  RankRecord a, b;
  a.rank = 0, a.stage = 0, a.start_unix_s = 1.7e9;
  a.transport.bytes_sent = 2000;
  a.peak_rss_bytes = 100;
  a.events = {ev(InstrKind::Load, 0, 0, 0.0, 0.1, 4), ev(InstrKind::Forward, 0, 0, 0.1, 1.1, 4), ev(InstrKind::SendAct, 0, 0, 1.1, 1.1, 4),
              ev(InstrKind::Load, 1, 0, 1.1, 1.2, 4), ev(InstrKind::Forward, 1, 0, 1.2, 2.2, 4), ev(InstrKind::SendAct, 1, 0, 2.2, 2.2, 4)};
  b.rank = 1, b.stage = 1, b.start_unix_s = 1.7e9 + 0.5;
  b.peak_rss_bytes = 300;
  b.events = {ev(InstrKind::RecvAct, 0, 0, 0.0, 0.7, 4),  // waits from 0.5, arrives 1.2: one-way 1.2 - 1.1 = 0.1
              ev(InstrKind::Forward, 0, 0, 0.7, 1.7, 4), ev(InstrKind::Output, 0, 0, 1.7, 1.8, 4),
              ev(InstrKind::RecvAct, 1, 0, 1.8, 1.9, 4),  // posted at 2.3, after the send at 2.2: not observed
              ev(InstrKind::Forward, 1, 0, 1.9, 2.9, 4), ev(InstrKind::Output, 1, 0, 2.9, 3.0, 4)};
  return {a, b};
}

TEST(Measure, ForwardPipelineFiguresMatchHandComputedOnes) {
  const RunMeasure m = measure_run(forward_two_stages(), {Mode::Forward, 2, 2, 2, 256});
  EXPECT_NEAR(m.makespan_s, 3.5, 1e-6);  // rank 0's first L at 0 to rank 1's last O at 0.5 + 3.0
  EXPECT_NEAR(m.tokens_per_s, 256 / 3.5, 1e-4);
  EXPECT_NEAR(m.sequences_per_s, 2 / 3.5, 1e-6);
  // Busy: 0.1 + 1 + 0.1 + 1 on each rank.
  EXPECT_NEAR(m.bubble, 1 - 4.4 / (2 * 3.5), 1e-6);
  ASSERT_EQ(m.stages.size(), 2u);
  EXPECT_NEAR(m.stages[0].busy_s, 2.2, 1e-9);
  EXPECT_NEAR(m.stages[1].busy_fraction, 2.2 / 3.5, 1e-6);
  EXPECT_NEAR(m.stages[0].time_per_mb_s, 1.1, 1e-9);  // 2.2 s over 2 micro-batches, one wave
  // TTFT: O end - L start per micro-batch: 2.3 - 0 and 3.5 - 1.1.
  EXPECT_NEAR(m.ttft_p50_s, 2.35, 1e-6);
  EXPECT_NEAR(m.ttft_p99_s, 2.3 + 0.99 * 0.1, 1e-6);
  EXPECT_EQ(m.tpot_p50_s, 0);
  // One observed transfer of 1000 bytes (2000 over two sends) in 0.1 s.
  EXPECT_NEAR(m.stages[0].transfer_s, 0.1, 1e-6);
  EXPECT_NEAR(m.stages[0].bytes_per_message, 1000, 1e-9);
  EXPECT_NEAR(m.stages[0].bandwidth, 10000, 1e-2);
  EXPECT_EQ(m.stages[1].transfer_s, 0);  // the last stage sends nothing in forward mode
  EXPECT_EQ(m.stages[1].peak_rss_bytes, 300u);
  // Receive waits: micro-batch 1's 0.1 s; micro-batch 0's fills the pipeline and is left out.
  EXPECT_NEAR(m.stages[1].recv_wait_s, 0.1, 1e-9);
  EXPECT_EQ(m.stages[0].recv_wait_s, 0);
}

TEST(Measure, GenerationLatenciesSplitPromptStepsFromDecodeSteps) {
  // One stage, one group of 2 sequences with 3-token prompts: round 0 prefills (6 rows), rounds
  // 1-2 decode (2 rows), round 3 admits a new prompt beside a decoding sequence (3 + 1 rows).
  RankRecord r;
  r.start_unix_s = 100;
  const double t[] = {0.0, 1.0, 1.5, 2.25, 3.0};
  const int64_t rows[] = {6, 2, 2, 4};
  for (int k = 0; k < 4; ++k) {
    r.events.push_back(ev(InstrKind::Load, 0, k, t[k], t[k] + 0.1, rows[k]));
    r.events.push_back(ev(InstrKind::Forward, 0, k, t[k] + 0.1, t[k + 1] - 0.1, rows[k]));
    r.events.push_back(ev(InstrKind::Sample, 0, k, t[k + 1] - 0.1, t[k + 1], rows[k]));
  }
  const RunMeasure m = measure_run({r}, {Mode::Generate, 1, 2, 3, 8});
  // TTFT samples: round 0 (1.0 - 0.0) and round 3 (3.0 - 2.25): median 0.875.
  EXPECT_NEAR(m.ttft_p50_s, (1.0 + 0.75) / 2, 1e-9);
  // TPOT samples: rounds 1 and 2 (0.5 and 0.75); round 3 starts a sequence and is not one.
  EXPECT_NEAR(m.tpot_p50_s, 0.625, 1e-9);
  EXPECT_NEAR(m.tpot_p99_s, 0.5 + 0.99 * 0.25, 1e-9);
  EXPECT_NEAR(m.bubble, 0, 1e-9);                           // one stage that never waits
  EXPECT_NEAR(m.stages[0].time_per_mb_s, 3.0 / 1.5, 1e-9);  // 3 requests over a batch of 2: 1.5 waves
}

TEST(Measure, MedianIsPerFieldAndPercentileInterpolates) {
  EXPECT_EQ(percentile({}, 50), 0);
  EXPECT_EQ(percentile({3, 1, 2}, 50), 2);
  EXPECT_NEAR(percentile({1, 2, 3, 4}, 50), 2.5, 1e-12);
  EXPECT_NEAR(percentile({10, 20}, 99), 19.9, 1e-12);
  EXPECT_EQ(percentile({5, 7}, 100), 7);
  RunMeasure a, b, c;
  a.tokens_per_s = 10, b.tokens_per_s = 30, c.tokens_per_s = 20;
  a.bubble = 0.3, b.bubble = 0.1, c.bubble = 0.2;
  a.stages = b.stages = c.stages = std::vector<StageMeasure>(1);
  a.stages[0].time_per_mb_s = 5, b.stages[0].time_per_mb_s = 4, c.stages[0].time_per_mb_s = 6;
  const RunMeasure m = measure_median({a, b, c});
  EXPECT_EQ(m.tokens_per_s, 20);
  EXPECT_EQ(m.bubble, 0.2);
  EXPECT_EQ(m.stages[0].time_per_mb_s, 5);
}

}  // namespace
}  // namespace ps
