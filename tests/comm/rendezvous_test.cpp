// The rendezvous: all ranks join; missing ranks are named within the deadline; a duplicated rank
// and a disagreement on the world size are caught.
#include <gtest/gtest.h>

#include "comm_test_util.h"
#include "runtime/comm/rendezvous.h"

namespace ps::test {
namespace {

TEST(Rendezvous, AllRanksJoin) {
  auto server = start_server();
  run_ranks(4, [&](int r) { rendezvous_join(*connect_client(*server), r, 4, milliseconds(20000)); });
  EXPECT_TRUE(connect_client(*server)->check({"rendezvous/rank/0", "rendezvous/rank/3"}));
}

TEST(Rendezvous, MissingRanksAreNamed) {
  auto server = start_server();
  std::vector<std::string> errors(2);
  run_ranks(2, [&](int r) {
    errors[static_cast<size_t>(r)] =
        error_of([&] { rendezvous_join(*connect_client(*server), r, 4, milliseconds(300)); }, ErrorKind::Timeout);
  });
  for (const std::string& e : errors) EXPECT_EQ(e, "rendezvous: ranks 2, 3 of 4 did not join within 300 ms");
}

TEST(Rendezvous, MissingRankZeroIsNamedToo) {
  auto server = start_server();
  const std::string e =
      error_of([&] { rendezvous_join(*connect_client(*server), 1, 2, milliseconds(1500)); }, ErrorKind::Timeout);
  EXPECT_EQ(e, "rendezvous: rank 0 of 2 did not join within 1.5 s");
}

TEST(Rendezvous, SameRankTwiceIsRefused) {
  auto server = start_server();
  auto c = connect_client(*server);
  store_set_string(*c, "rendezvous/rank/1", "1");  // as if another worker with RANK=1 had joined
  const std::string e = error_of([&] { rendezvous_join(*c, 1, 2, milliseconds(1000)); }, ErrorKind::Runtime);
  EXPECT_NE(e.find("rank 1 joined more than once"), std::string::npos) << e;
}

TEST(Rendezvous, WorldSizeDisagreementIsCaught) {
  auto server = start_server();
  std::vector<std::string> errors(3);
  run_ranks(3, [&](int r) {
    const int world = r == 1 ? 2 : 3;  // rank 1 was told a smaller world
    try {
      rendezvous_join(*connect_client(*server), r, world, milliseconds(20000));
    } catch (const Error& e) {
      errors[static_cast<size_t>(r)] = e.what();
    }
  });
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "rendezvous: this rank (1) has world size 2 but rank 0 has 3");
  EXPECT_EQ(errors[2], "");
}

TEST(Rendezvous, RankOutsideTheWorldIsBadInput) {
  auto server = start_server();
  auto c = connect_client(*server);
  EXPECT_NE(error_of([&] { rendezvous_join(*c, 4, 4, milliseconds(100)); }, ErrorKind::InvalidInput).find("0..3"),
            std::string::npos);
  error_of([&] { rendezvous_join(*c, 0, 0, milliseconds(100)); }, ErrorKind::InvalidInput);
}

}  // namespace
}  // namespace ps::test
