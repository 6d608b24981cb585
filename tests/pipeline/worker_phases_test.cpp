// The worker's phases alone (runtime/pipeline/worker_phases.h): the shutdown phase over an
// in-memory store, with a collector that succeeds and one whose store fails -- the job must end
// with the collector's own message, not a count of missing results.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "runtime/pipeline/worker_phases.h"
#include "support/test_support.h"

namespace ps {
namespace {

class MemStore final : public Store {
 public:
  void set(const std::string& key, std::span<const uint8_t> value) override {
    std::lock_guard<std::mutex> lock(mu_);
    kv_[key].assign(value.begin(), value.end());
  }
  std::vector<uint8_t> get(const std::string& key, std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = kv_.find(key);
    if (it == kv_.end()) fail_timeout("MemStore: no key '", key, "'");
    return it->second;
  }
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds t) override {
    for (const auto& k : keys) get(k, t);
  }
  int64_t add(const std::string& key, int64_t delta) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto& v = kv_[key];
    const int64_t n = (v.empty() ? 0 : std::stoll(std::string(v.begin(), v.end()))) + delta;
    const std::string s = std::to_string(n);
    v.assign(s.begin(), s.end());
    return n;
  }
  bool check(const std::vector<std::string>& keys) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& k : keys)
      if (!kv_.count(k)) return false;
    return true;
  }
  void erase(const std::vector<std::string>& keys) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& k : keys) kv_.erase(k);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<uint8_t>> kv_;
};

// Another client of the same store (the collector has its own, as on rank 0).
class StoreClient final : public Store {
 public:
  explicit StoreClient(Store& s) : s_(s) {}
  void set(const std::string& k, std::span<const uint8_t> v) override { s_.set(k, v); }
  std::vector<uint8_t> get(const std::string& k, std::chrono::milliseconds t) override { return s_.get(k, t); }
  void wait(const std::vector<std::string>& k, std::chrono::milliseconds t) override { s_.wait(k, t); }
  int64_t add(const std::string& k, int64_t d) override { return s_.add(k, d); }
  bool check(const std::vector<std::string>& k) override { return s_.check(k); }
  void erase(const std::vector<std::string>& k) override { s_.erase(k); }

 private:
  Store& s_;
};

// A store whose connection breaks: every call fails as a remote store's does.
class BrokenStore final : public Store {
 public:
  [[noreturn]] static void broken() { fail_runtime("store 127.0.0.1:29500: check: connection reset by peer"); }
  void set(const std::string&, std::span<const uint8_t>) override { broken(); }
  std::vector<uint8_t> get(const std::string&, std::chrono::milliseconds) override { broken(); }
  void wait(const std::vector<std::string>&, std::chrono::milliseconds) override { broken(); }
  int64_t add(const std::string&, int64_t) override { broken(); }
  bool check(const std::vector<std::string>&) override { broken(); }
};

std::vector<Request> two_requests() {
  std::vector<Request> r(2);
  r[0].id = str("a");  // not a literal: g++ 12 -Wrestrict false positive (GCC PR 105329)
  r[1].id = str("b");
  return r;
}

JobInput job_of(const test::TempDir& dir, const std::vector<Request>& reqs) {
  JobInput job;
  job.reqs = reqs;
  job.journal = std::make_unique<ResultJournal>(dir.file("out.jsonl"), dir.file("in.jsonl"), reqs.size(), "generate",
                                                false);
  job.config = JobConfig{8, reqs.size(), {}};
  return job;
}

WorkerEnv rank0_of_one() {
  WorkerEnv env;
  env.rank = 0;
  env.world = 1;
  return env;
}

TEST(WorkerPhases, ShutdownWritesTheCollectedResultsInInputOrder) {
  test::TempDir dir;
  JobInput job = job_of(dir, two_requests());
  MemStore store;
  // Replica 0 published b's result before a's (as a pipeline may finish them).
  StoreResultPublisher pub(store, 0);
  pub.publish(1, R"({"finish_reason":"stop","output_ids":[4]})");
  pub.publish(0, R"({"finish_reason":"length","output_ids":[]})");
  CollectorThread collector(std::make_unique<StoreClient>(store), 1, 2, *job.journal);
  job_shutdown(std::chrono::seconds(10), rank0_of_one(), store, job, &collector);
  EXPECT_EQ(test::read_text(dir.file("out.jsonl")),
            "{\"finish_reason\":\"length\",\"id\":\"a\",\"output_ids\":[]}\n"
            "{\"finish_reason\":\"stop\",\"id\":\"b\",\"output_ids\":[4]}\n");
  EXPECT_FALSE(test::file_exists(dir.file("out.jsonl.journal")));
  EXPECT_FALSE(store.check({"out/0/0"}));  // collected keys are erased
  EXPECT_EQ(store_get_string(store, "job/finished", {}), "1");
}

TEST(WorkerPhases, CollectorFailureEndsTheJobWithItsOwnMessage) {
  test::TempDir dir;
  JobInput job = job_of(dir, two_requests());
  MemStore store;
  CollectorThread collector(std::make_unique<BrokenStore>(), 1, 2, *job.journal);
  try {
    with_context("rank 0", [&] { job_shutdown(std::chrono::seconds(10), rank0_of_one(), store, job, &collector); });
    FAIL() << "the shutdown phase must rethrow the collector's failure";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "rank 0: collecting results: store 127.0.0.1:29500: check: connection reset by peer");
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
  }
  EXPECT_FALSE(test::file_exists(dir.file("out.jsonl")));  // a failed run writes no output
  EXPECT_TRUE(test::file_exists(dir.file("out.jsonl.journal")));
}

TEST(WorkerPhases, CollectorFailureOnABadMessageNamesIt) {
  test::TempDir dir;
  JobInput job = job_of(dir, two_requests());
  auto bad = std::make_unique<MemStore>();
  store_set_string(*bad, "out/0/0", "{\"i\": 0}");  // no "r"
  CollectorThread collector(std::move(bad), 1, 2, *job.journal);
  try {
    collector.finish(std::chrono::steady_clock::now() + std::chrono::seconds(10));
    FAIL() << "finish must rethrow";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("collecting results: ", 0), 0u) << e.what();
  }
}

TEST(WorkerPhases, MissingResultsWithoutACollectorFailureAreCounted) {
  test::TempDir dir;
  JobInput job = job_of(dir, two_requests());
  MemStore store;
  auto cs = std::make_unique<MemStore>();
  store_set_string(*cs, "out/0/0", R"({"i":0,"r":{"finish_reason":"length","output_ids":[]}})");
  CollectorThread collector(std::move(cs), 1, 2, *job.journal);
  // One of two results ever arrives: the deadline ends the wait, and the count says what is missing.
  try {
    job_shutdown(std::chrono::milliseconds(300), rank0_of_one(), store, job, &collector);
    FAIL() << "one result is missing";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "results: 1 of 2 requests have results");
  }
}

TEST(WorkerPhases, ReplicaShareTakesEveryRthRequestLessTheDone) {
  EXPECT_EQ(replica_share(7, {}, 0, 2), (std::vector<size_t>{0, 2, 4, 6}));
  EXPECT_EQ(replica_share(7, {2, 5}, 1, 2), (std::vector<size_t>{1, 3}));
  EXPECT_EQ(replica_share(7, {0, 2, 4, 6}, 0, 2), (std::vector<size_t>{}));
}

}  // namespace
}  // namespace ps
