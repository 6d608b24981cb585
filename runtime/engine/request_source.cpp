#include "runtime/engine/request_source.h"

#include <algorithm>
#include <utility>

#include "runtime/core/error.h"

namespace ps {

FileSource::FileSource(const std::vector<Request>& reqs, std::vector<size_t> order)
    : reqs_(reqs), order_(std::move(order)) {
  for (size_t i : order_) PS_CHECK(i < reqs_.size(), "request ", i, " of ", reqs_.size());
}

FileSource::FileSource(const std::vector<Request>& reqs) : reqs_(reqs) {
  for (size_t i = 0; i < reqs.size(); ++i) order_.push_back(i);
}

std::optional<SourcedRequest> FileSource::next() {
  if (next_ == order_.size()) return std::nullopt;
  const size_t i = order_[next_++];
  return SourcedRequest{static_cast<int32_t>(i), reqs_[i]};
}

int32_t QueueSource::push(Request r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) fail_input("request '", r.id, "': the request queue is closed");
  const int32_t index = next_index_++;
  queue_.push_back({index, std::move(r)});
  cv_.notify_all();
  return index;
}

void QueueSource::cancel(int32_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index < 0 || index >= next_index_) fail_input("cancel: no request ", index, " was queued");
  const auto it = std::find_if(queue_.begin(), queue_.end(), [&](const SourcedRequest& q) { return q.index == index; });
  const bool started = it == queue_.end();
  if (!started) queue_.erase(it);
  cancelled_.push_back({index, started});
  cv_.notify_all();
}

void QueueSource::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

std::optional<SourcedRequest> QueueSource::next() {
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.empty()) return std::nullopt;
  SourcedRequest r = std::move(queue_.front());
  queue_.pop_front();
  return r;
}

std::vector<Cancellation> QueueSource::take_cancelled() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(cancelled_, {});
}

bool QueueSource::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !queue_.empty() || !cancelled_.empty();
}

bool QueueSource::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

void QueueSource::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty() || !cancelled_.empty(); });
}

}  // namespace ps
