#include "runtime/bench/bench_run.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/json_util.h"

namespace ps {

int bench_run_logged(const std::vector<std::string>& argv, const std::string& log_path) {
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) fail_runtime(log_path, ": cannot open the log: ", std::strerror(errno));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    fail_runtime("fork: ", std::strerror(errno));
  }
  if (pid == 0) {  // child: only async-signal-safe calls until exec
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execv(args[0], args.data());
    const char msg[] = "bench: exec failed\n";
    [[maybe_unused]] const ssize_t n = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(log);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) fail_runtime("waitpid: ", std::strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string bench_log_tail(const std::string& log_path, size_t n) {
  std::ifstream in(log_path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (tail.size() > n) tail.pop_front();
  }
  std::string out;
  for (const std::string& l : tail) out += "  " + l + "\n";
  return out;
}

std::vector<std::string> bench_read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

void bench_diff_results(const std::vector<std::string>& reference, const std::vector<std::string>& got,
                        std::set<size_t>& wrong) {
  for (size_t i = 0; i < std::max(reference.size(), got.size()); ++i)
    if (i >= reference.size() || i >= got.size() || reference[i] != got[i]) wrong.insert(i);
}

int64_t bench_result_tokens(const std::vector<std::string>& lines, Mode mode, int64_t prompt_len) {
  if (mode == Mode::Forward) return static_cast<int64_t>(lines.size()) * prompt_len;
  int64_t tokens = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Json j = json_parse(lines[i], str("result line ", i + 1));
    if (j.is_object() && j.contains("output_ids") && j["output_ids"].is_array())
      tokens += static_cast<int64_t>(j["output_ids"].size());
  }
  return tokens;
}

}  // namespace ps
