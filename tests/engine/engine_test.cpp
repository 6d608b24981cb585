// The engine without a model: slot groups, continuous admission, where the run ends (the
// pipeline's first stage, formerly RequestFeed), and what the next issues need -- requests that
// arrive and are cancelled mid-run, an idle engine's bounded wait, chunked prefill, stop rules on
// the generated tokens, per-token events.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/engine/engine.h"
#include "runtime/engine/results_format.h"

namespace ps {
namespace {

using Clock = std::chrono::steady_clock;

// Results as the pipeline publishes them (JSON fields per request index).
struct MapPublisher : ResultPublisher {
  std::map<int32_t, std::string> got;
  void publish(int32_t request, const std::string& fields) override { got[request] = fields; }
};

// Every event in order, for the streaming tests.
struct EventLog : ResultSink {
  std::vector<TokenEvent> tokens;
  std::vector<SequenceEnd> ends;
  void on_token(const TokenEvent& e) override { tokens.push_back(e); }
  void on_finish(const SequenceEnd& e) override { ends.push_back(e); }
  const SequenceEnd* end_of(int32_t request) const {
    for (const auto& e : ends)
      if (e.request == request) return &e;
    return nullptr;
  }
};

Request request(size_t i, int len, int news) {
  Request q;
  q.id = str("r", i);  // not "r" + to_string: g++ 12 -Wrestrict false positive (GCC PR 105329)
  q.prompt_ids.assign(static_cast<size_t>(len), 3);
  q.max_new_tokens = news;
  return q;
}

std::vector<Request> requests(const std::vector<int>& lens, const std::vector<int>& news) {
  std::vector<Request> r;
  for (size_t i = 0; i < lens.size(); ++i) r.push_back(request(i, lens[i], news[i]));
  return r;
}

EngineConfig config(Mode mode, int slots, int groups, int64_t max_ctx) {
  EngineConfig c;
  c.mode = mode;
  c.slots = slots;
  c.groups = groups;
  c.max_ctx = max_ctx;
  return c;
}

// ---- today's behaviour (ported from tests/pipeline/request_feed_test.cpp, same assertions) ----

TEST(Engine, SlotGroupsSplitEvenly) {
  MapPublisher pub;
  PublishingSink sink(pub);
  const auto reqs = requests({1}, {1});
  FileSource src(reqs, {0});
  Engine f(config(Mode::Generate, 7, 3, 8), src, sink);
  EXPECT_EQ(f.group_begin(0), 0);
  EXPECT_EQ(f.group_begin(1), 3);
  EXPECT_EQ(f.group_begin(2), 5);
  EXPECT_EQ(f.group_begin(3), 7);
}

TEST(Engine, FinishedSequenceFreesItsSlotForTheNextRequest) {
  MapPublisher pub;
  PublishingSink sink(pub);
  // One group of one slot: request 0 makes 1 token, then request 1 takes the slot.
  const auto reqs = requests({2, 3}, {1, 2});
  FileSource src(reqs, {0, 1});
  Engine f(config(Mode::Generate, 1, 1, 16), src, sink);
  MicroBatch mb;
  f.load(0, {}, mb);
  EXPECT_EQ(mb.rows(), 2);  // request 0's prompt
  EXPECT_EQ(mb.seqs.at(0).request, 0);
  EXPECT_FALSE(mb.last_round);
  const int32_t t0[] = {11};
  f.load(0, t0, mb);  // request 0 finishes (1 token); request 1 is admitted into slot 0
  ASSERT_EQ(pub.got.count(0), 1u);
  EXPECT_EQ(Json::parse(pub.got[0])["output_ids"], Json::array({11}));
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
  EXPECT_EQ(Json::parse(pub.got[1])["output_ids"], Json::array({12, 13}));
  EXPECT_EQ(mb.rows(), 0);
  EXPECT_TRUE(mb.last_round);
}

TEST(Engine, ForwardRoundsTakeTheShareInOrderAndEndWithTheLastRequests) {
  MapPublisher pub;
  PublishingSink sink(pub);
  const auto reqs = requests({1, 2, 3, 4, 5}, {0, 0, 0, 0, 0});
  FileSource src(reqs, {0, 2, 4});
  Engine f(config(Mode::Forward, 2, 2, 8), src, sink);
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

// The published fields are the JSON the pipeline journals, in the field layout of result_line.
TEST(Engine, NothingToGenerateEndsAtAdmissionWithLength) {
  MapPublisher pub;
  PublishingSink sink(pub);
  const auto reqs = requests({2, 8}, {0, 4});  // no new tokens; a prompt that fills the context
  FileSource src(reqs);
  Engine f(config(Mode::Generate, 2, 1, 8), src, sink);
  MicroBatch mb;
  f.load(0, {}, mb);
  EXPECT_EQ(mb.rows(), 0);
  EXPECT_TRUE(mb.last_round);
  EXPECT_EQ(pub.got[0], R"({"finish_reason":"length","output_ids":[]})");
  EXPECT_EQ(pub.got[1], R"({"finish_reason":"length","output_ids":[]})");
}

// ---- streaming: per-token events, then the end ---------------------------------------------

TEST(Engine, EveryAcceptedTokenIsAnEventBeforeTheEnd) {
  EventLog log;
  const auto reqs = requests({2}, {3});
  FileSource src(reqs);
  Engine f(config(Mode::Generate, 1, 1, 16), src, log);
  MicroBatch mb;
  f.load(0, {}, mb);
  for (int32_t t : {7, 8, 9}) {
    const int32_t tok[] = {t};
    f.load(0, tok, mb);
  }
  ASSERT_EQ(log.tokens.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(log.tokens[k].request, 0);
    EXPECT_EQ(log.tokens[k].token, static_cast<int32_t>(7 + k));
    EXPECT_EQ(log.tokens[k].position, static_cast<int64_t>(2 + k));
  }
  ASSERT_EQ(log.ends.size(), 1u);
  EXPECT_EQ(log.ends[0].output_ids, (std::vector<int32_t>{7, 8, 9}));
  EXPECT_EQ(log.ends[0].finish_reason, "length");
  EXPECT_TRUE(mb.last_round);
}

// ---- stop rules ------------------------------------------------------------------------------

TEST(Engine, StopRuleOnTheGeneratedTokensEndsWithStop) {
  EventLog log;
  auto reqs = requests({1, 1}, {10, 10});
  reqs[1].id = "plain";
  EngineConfig cfg = config(Mode::Generate, 2, 1, 32);
  // A "stop string" over tokens: the generated tail 5, 6 (a tokenizer's rule would decode them).
  std::vector<std::vector<int32_t>> seen;
  cfg.stop_rule = [&](const Request& r) -> StopRule {
    if (r.id == "plain") return {};
    return [&seen](std::span<const int32_t> out) {
      seen.emplace_back(out.begin(), out.end());
      return out.size() >= 2 && out[out.size() - 2] == 5 && out.back() == 6;
    };
  };
  FileSource src(reqs);
  Engine f(cfg, src, log);
  MicroBatch mb;
  f.load(0, {}, mb);
  for (int32_t t : {5, 4, 5, 6}) {
    const int32_t tok[] = {t, t};
    f.load(0, tok, mb);
  }
  const SequenceEnd* e = log.end_of(0);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->finish_reason, "stop");
  EXPECT_EQ(e->output_ids, (std::vector<int32_t>{5, 4, 5, 6}));
  ASSERT_EQ(seen.size(), 4u);  // asked once per accepted token, with the output so far
  EXPECT_EQ(seen[0], (std::vector<int32_t>{5}));
  EXPECT_EQ(seen[3], (std::vector<int32_t>{5, 4, 5, 6}));
  EXPECT_EQ(log.end_of(1), nullptr);  // the request without a rule goes on
  ASSERT_EQ(mb.seqs.size(), 1u);
  EXPECT_EQ(mb.seqs[0].request, 1);
}

TEST(Engine, StopIdWinsAndIsIncluded) {
  EventLog log;
  auto reqs = requests({1}, {10});
  reqs[0].stop_ids = {2};
  FileSource src(reqs);
  Engine f(config(Mode::Generate, 1, 1, 32), src, log);
  MicroBatch mb;
  f.load(0, {}, mb);
  for (int32_t t : {4, 2}) {
    const int32_t tok[] = {t};
    f.load(0, tok, mb);
  }
  ASSERT_EQ(log.ends.size(), 1u);
  EXPECT_EQ(log.ends[0].finish_reason, "stop");
  EXPECT_EQ(log.ends[0].output_ids, (std::vector<int32_t>{4, 2}));
}

// ---- chunked prefill -------------------------------------------------------------------------

TEST(Engine, PrefillChunksCapPromptRowsPerStepAndSampleOnlyAtTheEnd) {
  EventLog log;
  // Request 0: a 7-token prompt in chunks of 3 (3, 3, 1 rows); request 1: one token, beside it.
  const auto reqs = requests({7, 1}, {2, 2});
  EngineConfig cfg = config(Mode::Generate, 2, 1, 16);
  cfg.prefill_chunk = 3;
  FileSource src(reqs);
  Engine f(cfg, src, log);
  MicroBatch mb;
  StepInfo info = f.load(0, {}, mb);
  EXPECT_EQ(info.prompt_rows, 4);
  EXPECT_EQ(mb.batch.positions, (std::vector<int32_t>{0, 1, 2, 0}));
  EXPECT_EQ(mb.batch.slots, (std::vector<int32_t>{0, 0, 0, 1}));
  ASSERT_EQ(mb.seqs.size(), 1u);  // only request 1 reached its last prompt token
  EXPECT_EQ(mb.seqs[0].request, 1);
  EXPECT_EQ(mb.batch.logit_rows, (std::vector<int32_t>{3}));
  EXPECT_EQ(f.awaited(0), 1u);
  const int32_t a[] = {20};
  info = f.load(0, a, mb);
  EXPECT_EQ(info.prompt_rows, 3);
  EXPECT_EQ(mb.batch.positions, (std::vector<int32_t>{3, 4, 5, 1}));
  EXPECT_EQ(mb.batch.tokens, (std::vector<int32_t>{3, 3, 3, 20}));
  ASSERT_EQ(mb.seqs.size(), 1u);
  const int32_t b[] = {21};
  info = f.load(0, b, mb);  // request 1 ends (2 tokens); request 0's last prompt row samples
  EXPECT_EQ(info.prompt_rows, 1);
  EXPECT_EQ(mb.batch.positions, (std::vector<int32_t>{6}));
  ASSERT_EQ(mb.seqs.size(), 1u);
  EXPECT_EQ(mb.seqs[0].request, 0);
  EXPECT_EQ(mb.seqs[0].key.position, 7);
  ASSERT_NE(log.end_of(1), nullptr);
  EXPECT_EQ(log.end_of(1)->output_ids, (std::vector<int32_t>{20, 21}));
  const int32_t c[] = {30};
  info = f.load(0, c, mb);  // decode: one row at position 7
  EXPECT_EQ(info.prompt_rows, 0);
  EXPECT_EQ(mb.batch.positions, (std::vector<int32_t>{7}));
  EXPECT_EQ(mb.batch.tokens, (std::vector<int32_t>{30}));
  const int32_t d[] = {31};
  f.load(0, d, mb);
  EXPECT_EQ(log.end_of(0)->output_ids, (std::vector<int32_t>{30, 31}));
  EXPECT_TRUE(mb.last_round);
}

TEST(Engine, WrongTokenCountIsAnError) {
  EventLog log;
  const auto reqs = requests({2}, {2});
  FileSource src(reqs);
  Engine f(config(Mode::Generate, 1, 1, 16), src, log);
  MicroBatch mb;
  f.load(0, {}, mb);
  const int32_t two[] = {1, 2};
  EXPECT_THROW(f.load(0, two, mb), Error);
}

// ---- the queue source ------------------------------------------------------------------------

TEST(QueueSource, HandsOutInArrivalOrderAndWithdrawsCancelledRequests) {
  QueueSource q;
  EXPECT_FALSE(q.pending());
  EXPECT_FALSE(q.closed());
  EXPECT_EQ(q.push(request(0, 1, 1)), 0);
  EXPECT_EQ(q.push(request(1, 1, 1)), 1);
  EXPECT_EQ(q.push(request(2, 1, 1)), 2);
  auto first = q.next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->index, 0);
  EXPECT_EQ(first->request.id, "r0");
  q.cancel(1);  // still queued: withdrawn
  q.cancel(0);  // handed out: the engine ends it
  const auto c = q.take_cancelled();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].request, 1);
  EXPECT_FALSE(c[0].started);
  EXPECT_EQ(c[1].request, 0);
  EXPECT_TRUE(c[1].started);
  EXPECT_TRUE(q.take_cancelled().empty());
  auto next = q.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->index, 2);
  EXPECT_FALSE(q.next().has_value());
  EXPECT_THROW(q.cancel(7), Error);
  q.close();
  EXPECT_TRUE(q.closed());
  EXPECT_TRUE(source_exhausted(q));
  EXPECT_THROW(q.push(request(3, 1, 1)), Error);
}

TEST(QueueSource, WaitIsBoundedAndWakesOnAPushFromAnotherThread) {
  QueueSource q;
  auto t0 = Clock::now();
  q.wait(std::chrono::milliseconds(60));
  const auto idle = Clock::now() - t0;
  EXPECT_GE(idle, std::chrono::milliseconds(55));
  EXPECT_LT(idle, std::chrono::seconds(5));

  std::thread pusher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    q.push(request(0, 1, 1));
  });
  t0 = Clock::now();
  q.wait(std::chrono::seconds(30));
  const auto woke = Clock::now() - t0;
  pusher.join();
  EXPECT_TRUE(q.pending());
  EXPECT_LT(woke, std::chrono::seconds(10));  // the push, not the deadline, ended the wait
  t0 = Clock::now();
  q.wait(std::chrono::seconds(30));  // something pending: at once
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
}

TEST(QueueSource, ConcurrentPushesGetDistinctIndices) {
  QueueSource q;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&q, t] {
      for (int i = 0; i < 100; ++i) q.push(request(static_cast<size_t>(t * 100 + i), 1, 1));
    });
  for (auto& t : threads) t.join();
  std::vector<bool> seen(400, false);
  while (auto r = q.next()) {
    ASSERT_GE(r->index, 0);
    ASSERT_LT(r->index, 400);
    EXPECT_FALSE(seen[static_cast<size_t>(r->index)]);
    seen[static_cast<size_t>(r->index)] = true;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), 400);
}

// ---- the engine over a queue: arrivals, cancellations and idle rounds mid-run ----------------

TEST(Engine, RequestsArriveAndAreCancelledMidRun) {
  EventLog log;
  QueueSource q;
  EngineConfig cfg = config(Mode::Generate, 2, 1, 32);
  cfg.idle_wait = std::chrono::milliseconds(1);
  Engine f(cfg, q, log);
  MicroBatch mb;
  EXPECT_EQ(q.push(request(0, 2, 8)), 0);
  f.load(0, {}, mb);
  ASSERT_EQ(mb.seqs.size(), 1u);
  EXPECT_EQ(mb.batch.slots, (std::vector<int32_t>{0, 0}));
  EXPECT_EQ(q.push(request(1, 3, 8)), 1);  // arrives while request 0 runs: takes slot 1 next step
  const int32_t a[] = {40};
  f.load(0, a, mb);
  ASSERT_EQ(mb.seqs.size(), 2u);
  EXPECT_EQ(mb.batch.slots, (std::vector<int32_t>{0, 1, 1, 1}));
  EXPECT_EQ(q.push(request(2, 1, 8)), 2);  // waits: no slot is free
  q.cancel(2);                             // withdrawn while queued
  q.cancel(0);                             // running: ends at its group's next load
  const int32_t b[] = {41, 50};
  f.load(0, b, mb);
  const SequenceEnd* c0 = log.end_of(0);
  ASSERT_NE(c0, nullptr);
  EXPECT_EQ(c0->finish_reason, "cancelled");
  EXPECT_EQ(c0->output_ids, (std::vector<int32_t>{40}));  // the token sampled after the cancel is dropped
  const SequenceEnd* c2 = log.end_of(2);
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(c2->finish_reason, "cancelled");
  EXPECT_TRUE(c2->output_ids.empty());
  ASSERT_EQ(mb.seqs.size(), 1u);  // request 1 only; slot 0 is free again
  EXPECT_EQ(mb.seqs[0].request, 1);
  EXPECT_EQ(q.push(request(3, 1, 1)), 3);  // takes the freed slot 0
  const int32_t c[] = {51};
  f.load(0, c, mb);
  EXPECT_EQ(mb.batch.slots, (std::vector<int32_t>{1, 0}));
  q.close();
  EXPECT_FALSE(mb.last_round);
  const int32_t d[] = {52, 60};  // request 3 ends (1 token)
  f.load(0, d, mb);
  EXPECT_EQ(log.end_of(3)->output_ids, (std::vector<int32_t>{60}));
  EXPECT_EQ(log.end_of(3)->finish_reason, "length");
  q.cancel(1);
  const int32_t e[] = {53};
  f.load(0, e, mb);  // request 1 cancelled; nothing in flight, the queue closed and empty
  EXPECT_EQ(log.end_of(1)->finish_reason, "cancelled");
  EXPECT_EQ(log.end_of(1)->output_ids, (std::vector<int32_t>{50, 51, 52}));
  EXPECT_TRUE(mb.last_round);
  EXPECT_EQ(log.ends.size(), 4u);  // every request ends exactly once
}

TEST(Engine, IdleEngineRunsEmptyRoundsAtABoundedPaceUntilClosed) {
  EventLog log;
  QueueSource q;
  EngineConfig cfg = config(Mode::Generate, 4, 2, 16);
  cfg.idle_wait = std::chrono::milliseconds(20);
  Engine f(cfg, q, log);
  MicroBatch mb;
  const auto t0 = Clock::now();
  for (int round = 0; round < 3; ++round)
    for (int g = 0; g < 2; ++g) {
      f.load(g, {}, mb);
      EXPECT_EQ(mb.rows(), 0);
      EXPECT_FALSE(mb.last_round) << "an open source never ends the run";
    }
  const auto took = Clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(6 * 20 - 10));  // each idle load waited ...
  EXPECT_LT(took, std::chrono::seconds(10));                // ... a bounded time
  // A request pushed from another thread during a long idle wait is taken at once.
  cfg.idle_wait = std::chrono::seconds(30);
  Engine g(cfg, q, log);
  std::thread pusher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    q.push(request(0, 2, 1));
  });
  const auto t1 = Clock::now();
  g.load(0, {}, mb);
  pusher.join();
  EXPECT_LT(Clock::now() - t1, std::chrono::seconds(10));
  ASSERT_EQ(mb.seqs.size(), 1u);
  q.close();
  g.load(1, {}, mb);
  EXPECT_FALSE(mb.last_round);  // group 0 had work this round
  const int32_t t[] = {9};
  g.load(0, t, mb);
  g.load(1, {}, mb);
  EXPECT_TRUE(mb.last_round);  // no work, source closed and empty
  EXPECT_EQ(log.end_of(0)->output_ids, (std::vector<int32_t>{9}));
}

}  // namespace
}  // namespace ps
