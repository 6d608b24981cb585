// Schedules are data: their lists, text form and lock-step grids against hand-written goldens,
// and the checker against broken schedules.
#include <gtest/gtest.h>

#include "partitioner/schedule.h"
#include "partitioner/schedule_check.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

std::vector<std::vector<Instruction>> all_ranks(RoundKind kind, int stages, int mbs) {
  std::vector<std::vector<Instruction>> r;
  for (int s = 0; s < stages; ++s) r.push_back(make_schedule(kind, s, stages, mbs));
  return r;
}

std::vector<std::vector<Instruction>> generation(int stages, int mbs, int decode_rounds) {
  std::vector<std::vector<Instruction>> r;
  for (int s = 0; s < stages; ++s) r.push_back(make_generate_program(s, stages, mbs, decode_rounds));
  return r;
}

TEST(Schedule, ForwardLists) {
  EXPECT_EQ(schedule_str(0, make_schedule(RoundKind::Forward, 0, 3, 2)), "0L0 0F0 0SEND_F0 0L1 0F1 0SEND_F1");
  EXPECT_EQ(schedule_str(1, make_schedule(RoundKind::Forward, 1, 3, 2)), "1RECV_F0 1F0 1SEND_F0 1RECV_F1 1F1 1SEND_F1");
  EXPECT_EQ(schedule_str(2, make_schedule(RoundKind::Forward, 2, 3, 2)), "2RECV_F0 2F0 2O0 2RECV_F1 2F1 2O1");
  EXPECT_EQ(schedule_str(0, make_schedule(RoundKind::Forward, 0, 1, 2)), "0L0 0F0 0O0 0L1 0F1 0O1");
  const auto s1 = make_schedule(RoundKind::Forward, 1, 3, 1);
  EXPECT_EQ(s1[0], (Instruction{InstrKind::RecvAct, 0, 0}));
  EXPECT_EQ(s1[2], (Instruction{InstrKind::SendAct, 0, 2}));
}

TEST(Schedule, GenerateLists) {
  EXPECT_EQ(schedule_str(0, make_schedule(RoundKind::Prefill, 0, 2, 2)), "0L0 0F0 0SEND_F0 0L1 0F1 0SEND_F1");
  EXPECT_EQ(schedule_str(1, make_schedule(RoundKind::Prefill, 1, 2, 2)), "1RECV_F0 1F0 1T0 1SEND_T0 1RECV_F1 1F1 1T1 1SEND_T1");
  EXPECT_EQ(schedule_str(0, make_schedule(RoundKind::Decode, 0, 3, 2)),
            "0RECV_T0 0L0 0F0 0SEND_F0 0RECV_T1 0L1 0F1 0SEND_F1");
  EXPECT_EQ(schedule_str(1, make_schedule(RoundKind::Decode, 1, 3, 1)), "1RECV_F0 1F0 1SEND_F0");
  EXPECT_EQ(schedule_str(2, make_schedule(RoundKind::Decode, 2, 3, 1)), "2RECV_F0 2F0 2T0 2SEND_T0");
  EXPECT_EQ(schedule_str(0, make_schedule(RoundKind::Drain, 0, 3, 2)), "0RECV_T0 0RECV_T1");
  EXPECT_TRUE(make_schedule(RoundKind::Drain, 1, 3, 2).empty());
  // One stage: no messages; Sample's tokens feed the next round in place.
  EXPECT_EQ(schedule_str(0, make_schedule(RoundKind::Decode, 0, 1, 2)), "0L0 0F0 0T0 0L1 0F1 0T1");
  EXPECT_TRUE(make_schedule(RoundKind::Drain, 0, 1, 2).empty());
  EXPECT_EQ(make_schedule(RoundKind::Decode, 0, 3, 1)[0], (Instruction{InstrKind::RecvTokens, 0, 2}));
  EXPECT_EQ(make_schedule(RoundKind::Decode, 2, 3, 1)[3], (Instruction{InstrKind::SendTokens, 0, 0}));
}

TEST(Schedule, TextRoundTrip) {
  for (int P = 1; P <= 4; ++P)
    for (int s = 0; s < P; ++s) {
      const auto list = make_generate_program(s, P, 3, 2);
      EXPECT_EQ(schedule_parse(schedule_str(s, list), s, P), list);
    }
  int stage = -1;
  EXPECT_EQ(instruction_parse("12F3", 16, &stage), (Instruction{InstrKind::Forward, 3, -1}));
  EXPECT_EQ(stage, 12);
  EXPECT_EQ(instruction_parse("0RECV_T7", 4, &stage), (Instruction{InstrKind::RecvTokens, 7, 3}));
  for (const char* bad : {"F0", "1X0", "1F", "1F0x", "", "0RECV_F0", "3SEND_F0", "3RECV_T0", "4F0"}) {
    try {
      instruction_parse(bad, 4, &stage);
      ADD_FAILURE() << bad << " parsed";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(schedule_parse("0F0 1F0", 0, 2), Error);  // an entry of another stage
}

TEST(Schedule, ForwardGridTwoStagesTwoMicroBatches) {
  EXPECT_EQ(schedule_grid(all_ranks(RoundKind::Forward, 2, 2)),
            "step  rank 0     rank 1\n"
            "   0  0L0\n"
            "   1  0F0\n"
            "   2  0SEND_F0\n"
            "   3  0L1        1RECV_F0\n"
            "   4  0F1        1F0\n"
            "   5  0SEND_F1   1O0\n"
            "   6             1RECV_F1\n"
            "   7             1F1\n"
            "   8             1O1\n");
}

TEST(Schedule, GenerationGridTwoStagesOneDecodeRound) {
  // Tokens of round k come back in round k+1: rank 0 starts decoding micro-batch 0 (step 7)
  // while rank 1 still computes micro-batch 1 of the prefill.
  EXPECT_EQ(schedule_grid(generation(2, 2, 1)),
            "step  rank 0     rank 1\n"
            "   0  0L0\n"
            "   1  0F0\n"
            "   2  0SEND_F0\n"
            "   3  0L1        1RECV_F0\n"
            "   4  0F1        1F0\n"
            "   5  0SEND_F1   1T0\n"
            "   6             1SEND_T0\n"
            "   7  0RECV_T0   1RECV_F1\n"
            "   8  0L0        1F1\n"
            "   9  0F0        1T1\n"
            "  10  0SEND_F0   1SEND_T1\n"
            "  11  0RECV_T1   1RECV_F0\n"
            "  12  0L1        1F0\n"
            "  13  0F1        1T0\n"
            "  14  0SEND_F1   1SEND_T0\n"
            "  15  0RECV_T0   1RECV_F1\n"
            "  16             1F1\n"
            "  17             1T1\n"
            "  18             1SEND_T1\n"
            "  19  0RECV_T1\n");
}

TEST(Schedule, EveryShapePassesTheCheck) {
  for (int P = 1; P <= 6; ++P)
    for (int M = 1; M <= 8; ++M) {
      EXPECT_TRUE(schedule_check(all_ranks(RoundKind::Forward, P, M)).ok) << P << " " << M;
      const ScheduleCheck c = schedule_check(generation(P, M, 3));
      EXPECT_TRUE(c.ok) << P << " " << M << ": " << c.error << "\n" << c.grid;
    }
}

TEST(ScheduleCheck, Misordered) {
  auto r = all_ranks(RoundKind::Forward, 2, 2);
  std::swap(r[0][2], r[0][5]);  // rank 0 sends micro-batch 1's activation first
  std::swap(r[0][1], r[0][4]);
  std::swap(r[0][0], r[0][3]);
  const ScheduleCheck c = schedule_check(r);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.error,
            "misordered: 1RECV_F0 (rank 1) expects SEND_F of micro-batch 0 from rank 0, but the next message from rank 0 "
            "is 0SEND_F1 (posted at step 2)");
  EXPECT_EQ(c.step, 3);
  EXPECT_EQ(c.rank, 1);
  EXPECT_EQ(c.grid,
            "step  rank 0     rank 1\n"
            "   0  0L1\n"
            "   1  0F1\n"
            "   2  0SEND_F1\n"
            "   3  0L0        *1RECV_F0*\n");
}

TEST(ScheduleCheck, Deadlock) {
  // Both ranks receive first: a cycle of waits.
  std::vector<std::vector<Instruction>> r = {{{InstrKind::RecvTokens, 0, 1}, {InstrKind::Load, 0}, {InstrKind::Forward, 0}, {InstrKind::SendAct, 0, 1}},
                                             {{InstrKind::RecvAct, 0, 0}, {InstrKind::Forward, 0}, {InstrKind::Sample, 0}, {InstrKind::SendTokens, 0, 0}}};
  const ScheduleCheck c = schedule_check(r);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.error, "deadlock: 0RECV_T0 (rank 0) waits for SEND_T of micro-batch 0 from rank 1, which waits in 1RECV_F0 "
                     "without having sent it");
  EXPECT_EQ(c.grid, "step  rank 0     rank 1\n   0  *0RECV_T0*\n");
}

TEST(ScheduleCheck, ReceiveWhoseSenderFinished) {
  auto r = all_ranks(RoundKind::Forward, 2, 2);
  r[0].pop_back();  // micro-batch 1 is never sent
  const ScheduleCheck c = schedule_check(r);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.error, "deadlock: 1RECV_F1 (rank 1) waits for SEND_F of micro-batch 1 from rank 0, which has finished its "
                     "list without having sent it");
  EXPECT_EQ(c.rank, 1);
  EXPECT_NE(c.grid.find("*1RECV_F1*"), std::string::npos) << c.grid;
}

TEST(ScheduleCheck, UnmatchedSend) {
  auto r = all_ranks(RoundKind::Forward, 2, 2);
  r[1].resize(3);  // rank 1 never receives micro-batch 1
  const ScheduleCheck c = schedule_check(r);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.error, "unmatched: 0SEND_F1 (rank 0, step 5) is never received by rank 1 (1 message(s) left on that link)");
  EXPECT_EQ(c.step, 5);
  EXPECT_EQ(c.rank, 0);
  EXPECT_NE(c.grid.find("   5  *0SEND_F1*"), std::string::npos) << c.grid;
}

TEST(ScheduleCheck, OutOfOrderWithinARank) {
  auto r = all_ranks(RoundKind::Forward, 2, 2);
  std::swap(r[1][4], r[1][5]);  // Output of micro-batch 1 before its Forward
  ScheduleCheck c = schedule_check(r);
  EXPECT_EQ(c.error, "out of order: 1O1 (rank 1) runs before its Forward");
  EXPECT_EQ(c.step, 7);
  r = all_ranks(RoundKind::Forward, 2, 2);
  std::swap(r[1][0], r[1][1]);  // Forward before the activation arrived
  c = schedule_check(r);
  EXPECT_EQ(c.error, "out of order: 1F0 (rank 1) runs before its input (a Load or RECV_F of that micro-batch)");
  EXPECT_EQ(c.step, 0);
}

TEST(ScheduleCheck, BadPeer) {
  std::vector<std::vector<Instruction>> r = {{{InstrKind::Load, 0}, {InstrKind::Forward, 0}, {InstrKind::SendAct, 0, 0}}};
  const ScheduleCheck c = schedule_check(r);
  EXPECT_EQ(c.error, "0SEND_F0 (rank 0) names peer 0, not another rank of 0..0");
}

}  // namespace
}  // namespace ps
