// Helpers shared by the gtest binaries: temporary directories and running the real `pipeshard`
// binary as a child process (integration tests use real processes and real files).
#pragma once

#include <string>
#include <vector>

namespace ps::test {

struct CommandResult {
  int exit_code = -1;  // the exit status, or 128 + signal when killed by one
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs `pipeshard args...` with a deadline (seconds); kills it and fails the test on timeout.
CommandResult run_pipeshard(const std::vector<std::string>& args, int timeout_s = 120);
// Runs any program (argv[0] is looked up on PATH).
CommandResult run_command(const std::vector<std::string>& argv, int timeout_s = 120);

// A fresh directory under $TMPDIR removed (recursively) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);
bool file_exists(const std::string& path);

}  // namespace ps::test
