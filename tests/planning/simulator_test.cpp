// The simulator on hand-computed pipelines.
#include <gtest/gtest.h>

#include "partitioner/simulator.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

// Durations by op: Forward per stage, every send `send`, Sample `sample`, token sends `tokens`.
TimedProgram timed(std::vector<std::vector<Instruction>> ops, const std::vector<double>& forward, double send,
                   double sample = 0.0, double tokens = 0.0) {
  TimedProgram p;
  p.ops = std::move(ops);
  for (size_t s = 0; s < p.ops.size(); ++s) {
    std::vector<double> d;
    for (const auto& ins : p.ops[s])
      d.push_back(ins.op == InstrKind::Forward ? forward[s] : ins.op == InstrKind::SendAct ? send : ins.op == InstrKind::Sample ? sample
                                                       : ins.op == InstrKind::SendTokens ? tokens : 0.0);
    p.seconds.push_back(d);
  }
  return p;
}

std::vector<std::vector<Instruction>> round_of(RoundKind k, int P, int M) {
  std::vector<std::vector<Instruction>> r;
  for (int s = 0; s < P; ++s) r.push_back(make_schedule(k, s, P, M));
  return r;
}

TEST(Simulator, EqualStagesFillAndDrain) {
  for (int P = 1; P <= 6; ++P)
    for (int M = 1; M <= 9; ++M) {
      const double t = 0.25;
      const SimResult r = simulate(timed(round_of(RoundKind::Forward, P, M), std::vector<double>(static_cast<size_t>(P), t), 0.0));
      EXPECT_DOUBLE_EQ(r.makespan, (M + P - 1) * t) << P << " " << M;
      EXPECT_NEAR(r.bubble, static_cast<double>(P - 1) / (M + P - 1), 1e-12) << P << " " << M;
      for (int s = 0; s < P; ++s) {
        EXPECT_DOUBLE_EQ(r.busy[static_cast<size_t>(s)], M * t);
        EXPECT_DOUBLE_EQ(r.finish[static_cast<size_t>(s)], (M + s) * t);
      }
    }
}

TEST(Simulator, SendsDelayTheNextStageButNotTheSender) {
  // t = 1, send 0.5 <= t: each boundary adds its send once: M t + (P - 1)(t + c).
  const SimResult r = simulate(timed(round_of(RoundKind::Forward, 3, 4), {1, 1, 1}, 0.5));
  EXPECT_DOUBLE_EQ(r.makespan, 4 + 2 * 1.5);
  EXPECT_DOUBLE_EQ(r.finish[0], 4.0);  // asynchronous sends: stage 0 never waits
  EXPECT_EQ(r.transfers.size(), 8u);
  EXPECT_DOUBLE_EQ(r.transfers[1].start, 2.0);
  EXPECT_DOUBLE_EQ(r.transfers[1].end, 2.5);
}

TEST(Simulator, ASlowLinkCarriesOneMessageAtATime) {
  // P = 2, t = 1, send 2 > t: message m leaves at 1 + 2m, arrives at 3 + 2m; stage 1 ends at 2 t + M c.
  const SimResult r = simulate(timed(round_of(RoundKind::Forward, 2, 3), {1, 1}, 2.0));
  EXPECT_DOUBLE_EQ(r.makespan, 2 + 3 * 2.0);
  EXPECT_DOUBLE_EQ(r.transfers[2].start, 5.0);
}

TEST(Simulator, UnequalStages) {
  // Stage 1 is 3x slower: it runs back to back from t = 1; busy 3 and 9 of 2 x 10.
  const SimResult r = simulate(timed(round_of(RoundKind::Forward, 2, 3), {1, 3}, 0.0));
  EXPECT_DOUBLE_EQ(r.makespan, 10.0);
  EXPECT_DOUBLE_EQ(r.busy[0], 3.0);
  EXPECT_DOUBLE_EQ(r.busy[1], 9.0);
  EXPECT_DOUBLE_EQ(r.bubble, 1.0 - 12.0 / 20.0);
  ASSERT_EQ(r.compute.size(), 12u);  // stage 0: L F per micro-batch, then stage 1: F O
  EXPECT_EQ(r.compute[6].stage, 1);
  EXPECT_EQ(r.compute[6].ins, (Instruction{InstrKind::Forward, 0, -1}));
  EXPECT_DOUBLE_EQ(r.compute[6].start, 1.0);
  EXPECT_DOUBLE_EQ(r.compute[10].start, 7.0);  // micro-batch 2
}

TEST(Simulator, GenerationRoundTrip) {
  // One micro-batch on two stages: every token goes round the loop
  // F0 (1) + send (0.5) + F1 (2) + sample (0.25) + tokens back (0.125), prefill and 3 decode rounds.
  std::vector<std::vector<Instruction>> ops;
  for (int s = 0; s < 2; ++s) ops.push_back(make_generate_program(s, 2, 1, 3));
  const SimResult r = simulate(timed(ops, {1, 2}, 0.5, 0.25, 0.125));
  EXPECT_DOUBLE_EQ(r.makespan, 4 * (1 + 0.5 + 2 + 0.25 + 0.125));
  EXPECT_DOUBLE_EQ(r.busy[0], 4.0);
  EXPECT_DOUBLE_EQ(r.busy[1], 4 * 2.25);
  // With as many micro-batches as stages and free links the loop stays full after the prefill:
  // stage 1 (the slower, 2 s) never idles once it started.
  ops.clear();
  for (int s = 0; s < 2; ++s) ops.push_back(make_generate_program(s, 2, 2, 3));
  const SimResult full = simulate(timed(ops, {2, 2}, 0.0));
  EXPECT_DOUBLE_EQ(full.makespan, 2 + 4 * 2 * 2);
  EXPECT_DOUBLE_EQ(full.busy[1], 16.0);
}

TEST(Simulator, RefusesAnInconsistentSchedule) {
  auto ops = round_of(RoundKind::Forward, 2, 2);
  ops[0].pop_back();
  try {
    simulate(timed(ops, {1, 1}, 0));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("*1RECV_F1*"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ps
