// The micro-batch wire format: round trip, and every malformed field refused with the sender named.
#include <gtest/gtest.h>

#include "runtime/pipeline/micro_batch.h"

namespace ps {
namespace {

MicroBatch sample_mb() {
  MicroBatch mb;
  mb.batch.slots = {0, 0, 0, 1};
  mb.batch.positions = {0, 1, 2, 7};
  mb.batch.logit_rows = {2, 3};
  mb.seqs = {{5, {0.7f, 40, 0.9f, 123456789012345ull}, {123456789012345ull, 0xdeadbeefcafef00dull, 3}},
             {9, {0.0f, 0, 1.0f, 1}, {1, 42, 8}}};
  mb.last_round = true;
  return mb;
}

TEST(MicroBatchWire, RoundTripKeepsEveryField) {
  const MicroBatch mb = sample_mb();
  const auto h = mb_header_encode(mb, 64);
  const MbHeader hd = mb_header_decode(h, 100, 64, "rank 0");
  EXPECT_EQ(hd.rows, 4);
  EXPECT_EQ(hd.seqs, 2);
  EXPECT_TRUE(hd.last_round);
  const auto meta = mb_meta_encode(mb);
  ASSERT_EQ(static_cast<int64_t>(meta.size()), mb_meta_ints(hd));
  MicroBatch back;
  mb_meta_decode(meta, hd, 2, 16, "rank 0", back);
  EXPECT_EQ(back.batch.slots, mb.batch.slots);
  EXPECT_EQ(back.batch.positions, mb.batch.positions);
  EXPECT_EQ(back.batch.logit_rows, mb.batch.logit_rows);
  ASSERT_EQ(back.seqs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back.seqs[i].request, mb.seqs[i].request);
    EXPECT_EQ(back.seqs[i].sampling.temperature, mb.seqs[i].sampling.temperature);
    EXPECT_EQ(back.seqs[i].sampling.top_k, mb.seqs[i].sampling.top_k);
    EXPECT_EQ(back.seqs[i].sampling.top_p, mb.seqs[i].sampling.top_p);
    EXPECT_EQ(back.seqs[i].sampling.seed, mb.seqs[i].sampling.seed);
    EXPECT_EQ(back.seqs[i].key.request_hash, mb.seqs[i].key.request_hash);
    EXPECT_EQ(back.seqs[i].key.position, mb.seqs[i].key.position);
  }
  EXPECT_TRUE(back.last_round);
}

TEST(MicroBatchWire, MalformedHeadersAreRefusedNamingTheSender) {
  const MicroBatch mb = sample_mb();
  auto h = mb_header_encode(mb, 64);
  auto expect_error = [](std::array<int32_t, kMbHeaderInts> bad, int64_t width, const char* what) {
    try {
      mb_header_decode(bad, 100, width, "rank 3 (replica 0 stage 1)");
      ADD_FAILURE() << "accepted " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("rank 3"), std::string::npos) << e.what();
    }
  };
  auto bad = h;
  bad[0] = 0;
  expect_error(bad, 64, "bad magic");
  bad = h;
  bad[1] = 101;
  expect_error(bad, 64, "too many rows");
  bad = h;
  bad[2] = 5;
  expect_error(bad, 64, "more sequences than rows");
  expect_error(h, 32, "a width the stage does not take");
  bad = h;
  bad[4] = 2;
  expect_error(bad, 64, "unknown flags");
}

TEST(MicroBatchWire, RowsOutsideTheCacheAreRefused) {
  const MicroBatch mb = sample_mb();
  const MbHeader hd = mb_header_decode(mb_header_encode(mb, 8), 100, 8, "rank 0");
  auto meta = mb_meta_encode(mb);
  MicroBatch out;
  EXPECT_THROW(mb_meta_decode(meta, hd, 1, 16, "rank 0", out), Error);  // slot 1 of 1 slot
  EXPECT_THROW(mb_meta_decode(meta, hd, 2, 7, "rank 0", out), Error);   // position 7 of 7
  meta[8 + 1] = 9;                                                       // first logit row past the rows
  EXPECT_THROW(mb_meta_decode(meta, hd, 2, 16, "rank 0", out), Error);
}

}  // namespace
}  // namespace ps
