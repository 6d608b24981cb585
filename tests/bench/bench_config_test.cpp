// Sweeps, synthetic requests, metrics files read back, and the merged trace -- the harness's
// pure functions, on hand-made inputs.
#include "runtime/bench/bench_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "runtime/bench/trace.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

TEST(Sweep, ParsesAndMultipliesInOrder) {
  const Sweep s = sweep_parse("micro_batches=1,2,4");
  EXPECT_EQ(s.key, "micro_batches");
  EXPECT_EQ(s.values, (std::vector<int64_t>{1, 2, 4}));
  BenchConfig base;
  base.stages = 2;
  const auto c = sweep_expand(base, {sweep_parse("stages=2,3"), s});
  ASSERT_EQ(c.size(), 6u);
  EXPECT_EQ(c[0].stages, 2);
  EXPECT_EQ(c[0].micro_batches, 1);
  EXPECT_EQ(c[2].micro_batches, 4);
  EXPECT_EQ(c[3].stages, 3);
  EXPECT_EQ(c[3].micro_batches, 1);
  EXPECT_EQ(c[5].batch_or_default(), 4);  // one sequence per micro-batch by default
  EXPECT_EQ(c[5].requests_or_default(), 4);
}

TEST(Sweep, RefusesBadInputNamingIt) {
  try {
    sweep_parse("micro_batch=1,2");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("did you mean micro_batches?"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sweep_parse("batch"), Error);
  EXPECT_THROW(sweep_parse("batch=1,,2"), Error);
  EXPECT_THROW(sweep_parse("batch=0"), Error);
  EXPECT_THROW(sweep_parse("batch=2x"), Error);
}

TEST(SyntheticRequests, AreSeededAndInRange) {
  const std::string a = requests_synthetic(3, 16, 5, 100, 7);
  EXPECT_EQ(a, requests_synthetic(3, 16, 5, 100, 7));
  EXPECT_NE(a, requests_synthetic(3, 16, 5, 100, 8));
  size_t lines = 0, pos = 0;
  std::set<int64_t> seen;
  while (pos < a.size()) {
    const size_t nl = a.find('\n', pos);
    const Json j = Json::parse(a.substr(pos, nl - pos));
    EXPECT_EQ(j["id"], "bench-" + std::to_string(lines));
    EXPECT_EQ(j["max_new_tokens"], 5);
    ASSERT_EQ(j["prompt_ids"].size(), 16u);
    for (const auto& t : j["prompt_ids"]) {
      EXPECT_GE(t.get<int64_t>(), 1);
      EXPECT_LT(t.get<int64_t>(), 100);
      seen.insert(t.get<int64_t>());
    }
    ++lines;
    pos = nl + 1;
  }
  EXPECT_EQ(lines, 3u);
  EXPECT_GT(seen.size(), 20u);  // 48 draws from 99 ids: a constant or short cycle would show
  EXPECT_EQ(requests_synthetic(1, 2, 0, 10, 1).find("max_new_tokens"), std::string::npos);
}

TEST(RankRecord, ReadsTheWorkersFormatAndNamesBadFields) {
  const Json j = Json::parse(R"({"rank": 1, "replica": 0, "stage": 1, "start_unix_s": 12.5, "rounds": 1,
    "load_s": 0.2, "weight_bytes": 10, "peak_rss_bytes": 20,
    "transport": {"bytes_sent": 1, "bytes_received": 2, "sends": 3, "recvs": 4},
    "events": [{"op": "RECV_F", "mb": 0, "round": 0, "start_s": 0.5, "end_s": 0.75, "rows": 3}]})");
  const RankRecord r = rank_record_from_json(j, "rank1.json");
  EXPECT_EQ(r.rank, 1);
  EXPECT_EQ(r.transport.recvs, 4u);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].op, InstrKind::RecvAct);
  EXPECT_EQ(r.events[0].rows, 3);
  Json bad = j;
  bad["events"][0]["op"] = "X";
  try {
    rank_record_from_json(bad, "rank1.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank1.json: events[0].op: 'X'"), std::string::npos) << e.what();
  }
  bad = j;
  bad["events"][0]["end_s"] = 0.1;
  EXPECT_THROW(rank_record_from_json(bad, "rank1.json"), Error);
}

TEST(Trace, OneCompleteEventPerInstructionOnTheRanksClock) {
  RankRecord a, b;
  a.rank = 0, a.start_unix_s = 50.0;
  a.events = {{InstrKind::Forward, 1, 2, 0.001, 0.003, 7}, {InstrKind::SendAct, 1, 2, 0.003, 0.0031, 7}};
  b.rank = 1, b.stage = 1, b.start_unix_s = 50.5;
  b.events = {{InstrKind::RecvAct, 1, 2, 0.0, 0.25, 7}};
  const Json t = trace_from_ranks({a, b});
  int complete = 0, names = 0;
  for (const Json& e : t["traceEvents"]) {
    if (e["ph"] == "M") {
      names += e["name"] == "thread_name";
      continue;
    }
    ASSERT_EQ(e["ph"], "X");
    ++complete;
    if (e["name"] == "F") {
      EXPECT_EQ(e["pid"], 0);
      EXPECT_EQ(e["tid"], kTraceComputeTid);
      EXPECT_NEAR(e["ts"].get<double>(), 1000, 1e-6);
      EXPECT_NEAR(e["dur"].get<double>(), 2000, 1e-6);
      EXPECT_EQ(e["args"], (Json{{"mb", 1}, {"round", 2}, {"rows", 7}}));
    } else if (e["name"] == "RECV_F") {
      EXPECT_EQ(e["pid"], 1);
      EXPECT_EQ(e["tid"], kTraceCommTid);
      EXPECT_NEAR(e["ts"].get<double>(), 0.5e6, 1e-3);  // rank 1 started half a second later
    } else {
      EXPECT_EQ(e["name"], "SEND_F");
      EXPECT_EQ(e["tid"], kTraceCommTid);
    }
  }
  EXPECT_EQ(complete, 3);
  EXPECT_EQ(names, 4);  // compute and communication of each rank
}

}  // namespace
}  // namespace ps
