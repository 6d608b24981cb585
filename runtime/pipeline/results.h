// Results of a pipeline run, end to end. The rank that finishes a request publishes it to the
// rendezvous store under "out/<replica>/<n>" (n counts that replica's results), so results from
// every node reach rank 0 without a shared filesystem. Rank 0 collects them as they arrive,
// appends each to a journal (<output>.journal, one JSON line per result, written at once), and
// when every request is done writes the final file in input order through a temporary file and
// a rename -- a failed run leaves the journal and no output. `--resume` reads the journal and
// skips the requests it holds.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/comm/store.h"
#include "runtime/io/requests.h"
#include "runtime/engine/result_sink.h"

namespace ps {

// Publishes a replica's results to the store (the first stage's through the engine's
// PublishingSink when generating, the last stage's through its ScoreFormatter when scoring).
class StoreResultPublisher final : public ResultPublisher {
 public:
  StoreResultPublisher(Store& store, int replica) : store_(store), replica_(replica) {}
  void publish(int32_t request, const std::string& fields) override;

 private:
  Store& store_;
  int replica_;
  int64_t next_ = 0;
};

// Journal lines: a header {"pipeshard_journal": 1, "input": ..., "requests": N, "mode": ...},
// then {"i": request index, "r": {result fields}} per result.
class ResultJournal {
 public:
  // Opens (resume: reads, checking it belongs to this input) or starts <output>.journal.
  ResultJournal(const std::string& output, const std::string& input, size_t requests, const std::string& mode,
                bool resume);
  ~ResultJournal();
  // Requests with a result (journaled, in this run or a resumed one). Only indices are kept in
  // memory: results live in the journal file, so a long run's memory does not grow with them.
  std::vector<int32_t> done() const;
  size_t done_count() const { return done_count_; }
  void append(int32_t request, const std::string& fields);
  // Writes the final output in input order (ids from `reqs`) and removes the journal.
  void finish(const std::vector<Request>& reqs);

 private:
  std::string output_, path_;
  int fd_ = -1;
  std::vector<bool> done_;  // one bit per request, sized up front: no growth while running
  size_t done_count_ = 0;
  void mark(int32_t request);
};

// Rank 0: moves published results from the store into the journal (deleting each key once it is
// journaled) until `expected` more have arrived or `stop` is set. Polls every replica's next key;
// never blocks longer than a poll.
void results_collect(Store& store, int replicas, size_t expected, ResultJournal& journal, const std::atomic<bool>& stop);

// Rank 0: results_collect on a thread of its own, over a store client of its own, while the rank
// runs its stage. A failure there is kept, not printed: finish() rethrows it as
// "collecting results: <what>", so the job ends with the collector's own message.
class CollectorThread {
 public:
  CollectorThread(std::unique_ptr<Store> store, int replicas, size_t expected, ResultJournal& journal);
  // Stops and joins (an error elsewhere is already on its way; this one is dropped).
  ~CollectorThread();
  CollectorThread(const CollectorThread&) = delete;
  CollectorThread& operator=(const CollectorThread&) = delete;

  // Waits until the collector has every expected result or has failed, at most until
  // `deadline`; then stops and joins it. Rethrows its failure.
  void finish(std::chrono::steady_clock::time_point deadline);

 private:
  void stop_and_join();

  std::unique_ptr<Store> store_;
  std::atomic<bool> stop_{false}, done_{false};
  std::exception_ptr error_;  // written by the thread before done_, read after the join
  std::thread thread_;
};

}  // namespace ps
