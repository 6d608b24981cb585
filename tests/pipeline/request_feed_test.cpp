// The first stage's feed: slot groups, continuous admission, and where the run ends.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "runtime/pipeline/request_feed.h"

namespace ps {
namespace {

struct MapSink : ResultSink {
  std::map<int32_t, std::string> got;
  void publish(int32_t request, const std::string& fields) override { got[request] = fields; }
};

std::vector<Request> requests(const std::vector<int>& lens, const std::vector<int>& news) {
  std::vector<Request> r;
  for (size_t i = 0; i < lens.size(); ++i) {
    Request q;
    q.id = str("r", i);  // not "r" + to_string: g++ 12 -Wrestrict false positive (GCC PR 105329)
    q.prompt_ids.assign(static_cast<size_t>(lens[i]), 3);
    q.max_new_tokens = news[i];
    r.push_back(q);
  }
  return r;
}

TEST(RequestFeed, SlotGroupsSplitEvenly) {
  MapSink sink;
  const auto reqs = requests({1}, {1});
  RequestFeed f(reqs, {0}, FeedConfig{Mode::Generate, 7, 3, 8, {}}, sink);
  EXPECT_EQ(f.group_begin(0), 0);
  EXPECT_EQ(f.group_begin(1), 3);
  EXPECT_EQ(f.group_begin(2), 5);
  EXPECT_EQ(f.group_begin(3), 7);
}

TEST(RequestFeed, FinishedSequenceFreesItsSlotForTheNextRequest) {
  MapSink sink;
  // One group of one slot: request 0 makes 1 token, then request 1 takes the slot.
  const auto reqs = requests({2, 3}, {1, 2});
  RequestFeed f(reqs, {0, 1}, FeedConfig{Mode::Generate, 1, 1, 16, {}}, sink);
  MicroBatch mb;
  f.load(0, {}, mb);
  EXPECT_EQ(mb.rows(), 2);  // request 0's prompt
  EXPECT_EQ(mb.seqs.at(0).request, 0);
  EXPECT_FALSE(mb.last_round);
  const int32_t t0[] = {11};
  f.load(0, t0, mb);  // request 0 finishes (1 token); request 1 is admitted into slot 0
  ASSERT_EQ(sink.got.count(0), 1u);
  EXPECT_EQ(Json::parse(sink.got[0])["output_ids"], Json::array({11}));
  EXPECT_EQ(mb.rows(), 3);
  EXPECT_EQ(mb.seqs.at(0).request, 1);
  EXPECT_EQ(mb.batch.slots, (std::vector<int32_t>{0, 0, 0}));
  const int32_t t1[] = {12};
  f.load(0, t1, mb);  // request 1 decodes its second token at position 3
  EXPECT_EQ(mb.batch.positions, (std::vector<int32_t>{3}));
  EXPECT_EQ(mb.batch.tokens, (std::vector<int32_t>{12}));
  EXPECT_EQ(mb.seqs.at(0).key.position, 4);
  EXPECT_FALSE(mb.last_round);
  const int32_t t2[] = {13};
  f.load(0, t2, mb);  // request 1 done: nothing in flight, nothing waiting -> last round
  EXPECT_EQ(Json::parse(sink.got[1])["output_ids"], Json::array({12, 13}));
  EXPECT_EQ(mb.rows(), 0);
  EXPECT_TRUE(mb.last_round);
}

TEST(RequestFeed, ForwardRoundsTakeTheShareInOrderAndEndWithTheLastRequests) {
  MapSink sink;
  const auto reqs = requests({1, 2, 3, 4, 5}, {0, 0, 0, 0, 0});
  RequestFeed f(reqs, {0, 2, 4}, FeedConfig{Mode::Forward, 2, 2, 8, {}}, sink);
  MicroBatch a, b;
  f.load(0, {}, a);
  f.load(1, {}, b);
  EXPECT_EQ(a.seqs.at(0).request, 0);
  EXPECT_EQ(b.seqs.at(0).request, 2);
  EXPECT_FALSE(b.last_round);
  f.load(0, {}, a);
  f.load(1, {}, b);
  EXPECT_EQ(a.seqs.at(0).request, 4);
  EXPECT_EQ(a.batch.logit_rows, (std::vector<int32_t>{4}));
  EXPECT_TRUE(b.seqs.empty());
  EXPECT_TRUE(b.last_round);
}

}  // namespace
}  // namespace ps
