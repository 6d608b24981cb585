// Where the engine's requests come from. A source hands out requests in the order they are to
// run, each with its index (the number its results carry); requests may arrive and be cancelled
// at any time, and closed() says that no more will come. The engine never blocks on a source
// for longer than a bounded wait, so a pipeline with nothing to do keeps running (empty) rounds:
// they are its heartbeats, and an idle server is not a timed-out wait.
//
//   FileSource   the requests of a file (or a replica's share of it), all known up front:
//                closed from the start, nothing to wait for, never cancels.
//   QueueSource  requests pushed and cancelled from other threads (the HTTP server's), closed
//                at shutdown. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "runtime/io/requests.h"

namespace ps {

struct SourcedRequest {
  int32_t index = 0;  // the request's number in its source: the input line's, or its arrival's
  Request request;
};

struct Cancellation {
  int32_t request = 0;
  // false: withdrawn before the engine took it (the engine only reports it cancelled);
  // true: handed out, so the engine ends it at its group's next load if it is still running.
  bool started = false;
};

class RequestSource {
 public:
  virtual ~RequestSource() = default;
  // The next request to run, if one is waiting now. Never blocks.
  virtual std::optional<SourcedRequest> next() = 0;
  // Cancellations since the last call, in the order they were made. Never blocks.
  virtual std::vector<Cancellation> take_cancelled() = 0;
  // True while a request or a cancellation is waiting to be taken.
  virtual bool pending() const = 0;
  // True once no request will arrive any more (what is pending may still be taken).
  virtual bool closed() const = 0;
  // Waits until something is pending or the source closes, at most `timeout`. Returns at once
  // if either holds already.
  virtual void wait(std::chrono::milliseconds timeout) = 0;
};

// Nothing pending and nothing more to come: once nothing is in flight, the run may end. Reads
// closed() first: after it holds, nothing new can arrive between the two reads.
inline bool source_exhausted(const RequestSource& s) { return s.closed() && !s.pending(); }

class FileSource final : public RequestSource {
 public:
  // `order`: the indices into `reqs` to run, in order (a replica's share, without the requests
  // a resumed run has done). `reqs` must outlive the source.
  FileSource(const std::vector<Request>& reqs, std::vector<size_t> order);
  // Every request, in input order.
  explicit FileSource(const std::vector<Request>& reqs);

  std::optional<SourcedRequest> next() override;
  std::vector<Cancellation> take_cancelled() override { return {}; }
  bool pending() const override { return next_ < order_.size(); }
  bool closed() const override { return true; }
  void wait(std::chrono::milliseconds) override {}

 private:
  const std::vector<Request>& reqs_;
  std::vector<size_t> order_;
  size_t next_ = 0;
};

class QueueSource final : public RequestSource {
 public:
  // Queues a request; returns its index (0, 1, ... in arrival order). InvalidInput once closed.
  int32_t push(Request r);
  // Cancels request `index` (as push returned it): withdrawn if still queued, else reported to
  // the engine as started (a request that has already finished is left as it is). InvalidInput
  // for an index never handed out by push.
  void cancel(int32_t index);
  // No more requests: the engine ends the run once what is queued and running has finished.
  void close();

  std::optional<SourcedRequest> next() override;
  std::vector<Cancellation> take_cancelled() override;
  bool pending() const override;
  bool closed() const override;
  void wait(std::chrono::milliseconds timeout) override;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SourcedRequest> queue_;
  std::vector<Cancellation> cancelled_;
  int32_t next_index_ = 0;
  bool closed_ = false;
};

}  // namespace ps
