#include "runtime/pipeline/results.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "runtime/core/files.h"

namespace ps {

void StoreResultPublisher::publish(int32_t request, const std::string& fields) {
  const Json msg = {{"i", request}, {"r", Json::parse(fields)}};
  store_set_string(store_, "out/" + std::to_string(replica_) + "/" + std::to_string(next_++), msg.dump());
}

ResultJournal::ResultJournal(const std::string& output, const std::string& input, size_t requests,
                             const std::string& mode, bool resume)
    : output_(output), path_(output + ".journal"), done_(requests, false) {
  const Json header = {{"pipeshard_journal", 1}, {"input", input}, {"requests", requests}, {"mode", mode}};
  if (resume && ::access(path_.c_str(), F_OK) == 0) {
    std::istringstream in(file_read_all(path_, kJournalFileCap));
    std::string line;
    int64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      Json j;
      try {
        j = Json::parse(line);
      } catch (const Json::exception&) {
        // A line cut short by a crash is the last one; anything else is damage.
        if (in.peek() == EOF) break;
        fail_input(path_, ": line ", n, ": not valid JSON (the journal is damaged; remove it to start over)");
      }
      if (n == 1) {
        if (j != header)
          fail_input(path_, ": belongs to another run (", j.dump(), "); remove it or rerun without --resume");
        continue;
      }
      if (!j.is_object() || !j.contains("i") || !j["i"].is_number_integer() || !j.contains("r"))
        fail_input(path_, ": line ", n, ": expected {\"i\": index, \"r\": result}");
      const int64_t i = j["i"].get<int64_t>();
      if (i < 0 || static_cast<size_t>(i) >= requests) fail_input(path_, ": line ", n, ": request index ", i, " out of range");
      mark(static_cast<int32_t>(i));
    }
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  } else {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ >= 0) {
      const std::string h = header.dump() + "\n";
      if (::write(fd_, h.data(), h.size()) != static_cast<ssize_t>(h.size())) fail_runtime(path_, ": write failed");
    }
  }
  if (fd_ < 0) fail_input(path_, ": cannot open: ", std::strerror(errno));
}

ResultJournal::~ResultJournal() {
  if (fd_ >= 0) ::close(fd_);
}

void ResultJournal::append(int32_t request, const std::string& fields) {
  const std::string line = Json{{"i", request}, {"r", Json::parse(fields)}}.dump() + "\n";
  // One write per line with O_APPEND: a crash leaves whole lines and at most one cut-off last line.
  if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    fail_runtime(path_, ": write failed: ", std::strerror(errno));
  mark(request);
}

void ResultJournal::mark(int32_t request) {
  PS_CHECK(request >= 0 && static_cast<size_t>(request) < done_.size(), "result for request ", request);
  if (!done_[static_cast<size_t>(request)]) ++done_count_;
  done_[static_cast<size_t>(request)] = true;
}

std::vector<int32_t> ResultJournal::done() const {
  std::vector<int32_t> out;
  for (size_t i = 0; i < done_.size(); ++i)
    if (done_[i]) out.push_back(static_cast<int32_t>(i));
  return out;
}

void ResultJournal::finish(const std::vector<Request>& reqs) {
  // The journal holds every result (its first line is the header); the last line for a request wins.
  std::vector<std::string> fields(reqs.size());
  std::istringstream in(file_read_all(path_, kJournalFileCap));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Json j;
    try {
      j = Json::parse(line);
    } catch (const Json::exception&) {
      continue;  // a line cut short by an earlier crash; its request was run again
    }
    const int64_t i = j.at("i").get<int64_t>();
    if (i >= 0 && static_cast<size_t>(i) < reqs.size()) fields[static_cast<size_t>(i)] = j.at("r").dump();
  }
  std::string text;
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (fields[i].empty()) fail_runtime("results: request ", i, " ('", reqs[i].id, "') has no result");
    Json out = Json::parse(fields[i]);
    out["id"] = reqs[i].id;
    text += out.dump() + "\n";
  }
  file_write_atomic(output_, text);
  ::close(fd_);
  fd_ = -1;
  ::unlink(path_.c_str());
}

void results_collect(Store& store, int replicas, size_t expected, ResultJournal& journal, const std::atomic<bool>& stop) {
  std::vector<int64_t> next(static_cast<size_t>(replicas), 0);
  size_t got = 0;
  while (got < expected && !stop.load()) {
    bool progress = false;
    for (int r = 0; r < replicas; ++r) {
      const std::string key = "out/" + std::to_string(r) + "/" + std::to_string(next[static_cast<size_t>(r)]);
      if (!store.check({key})) continue;
      const Json msg = Json::parse(store_get_string(store, key, std::chrono::milliseconds(1000)));
      journal.append(msg.at("i").get<int32_t>(), msg.at("r").dump());
      store.erase({key});
      ++next[static_cast<size_t>(r)];
      ++got;
      progress = true;
    }
    if (!progress) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

CollectorThread::CollectorThread(std::unique_ptr<Store> store, int replicas, size_t expected, ResultJournal& journal)
    : store_(std::move(store)) {
  thread_ = std::thread([this, replicas, expected, &journal] {
    try {
      results_collect(*store_, replicas, expected, journal, stop_);
    } catch (...) {
      error_ = std::current_exception();
    }
    done_ = true;
  });
}

CollectorThread::~CollectorThread() { stop_and_join(); }

void CollectorThread::stop_and_join() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void CollectorThread::finish(std::chrono::steady_clock::time_point deadline) {
  while (!done_ && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop_and_join();
  if (!error_) return;
  try {
    std::rethrow_exception(error_);
  } catch (const Error& e) {
    rethrow_with_context(e, "collecting results");
  } catch (const std::exception& e) {
    fail_runtime("collecting results: ", e.what());
  }
}

}  // namespace ps
