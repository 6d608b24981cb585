// The launcher's pieces that need no job: line splitting, how a process ended, PATH lookup,
// one spawned process.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <random>

#include "runtime/core/error.h"
#include "runtime/launch/log_lines.h"
#include "runtime/launch/process.h"
#include "support/test_support.h"

namespace ps {
namespace {

TEST(LogLines, CompleteLinesOnlyAndTheTailAtTheEnd) {
  LineBuffer b;
  EXPECT_EQ(line_buffer_feed(b, "a\nb"), std::vector<std::string>{"a"});
  EXPECT_EQ(line_buffer_feed(b, "c\n\nd"), (std::vector<std::string>{"bc", ""}));
  EXPECT_EQ(line_buffer_flush(b), std::optional<std::string>("d"));
  EXPECT_EQ(line_buffer_flush(b), std::nullopt);
  EXPECT_EQ(line_buffer_feed(b, "x\n"), std::vector<std::string>{"x"});
  EXPECT_EQ(line_buffer_flush(b), std::nullopt);
}

TEST(LogLines, AnyChunkingGivesTheSameLines) {
  // Reference: split the whole text at '\n' by hand.
  std::mt19937 rng(7);
  std::string text;
  for (int i = 0; i < 400; ++i) text.push_back(rng() % 5 == 0 ? '\n' : static_cast<char>('a' + rng() % 26));
  std::vector<std::string> expected(1);
  for (char c : text) {
    if (c == '\n') expected.emplace_back();
    else expected.back().push_back(c);
  }
  if (expected.back().empty()) expected.pop_back();
  for (int trial = 0; trial < 50; ++trial) {
    LineBuffer b;
    std::vector<std::string> got;
    for (size_t at = 0; at < text.size();) {
      const size_t n = std::min<size_t>(text.size() - at, 1 + rng() % 17);
      for (auto& l : line_buffer_feed(b, std::string_view(text).substr(at, n))) got.push_back(l);
      at += n;
    }
    if (auto last = line_buffer_flush(b)) got.push_back(*last);
    ASSERT_EQ(got, expected) << "trial " << trial;
  }
}

TEST(LogLines, LongLinesAreCut) {
  LineBuffer b;
  EXPECT_EQ(line_buffer_feed(b, "abcdefg", 3), (std::vector<std::string>{"abc", "def"}));
  EXPECT_EQ(line_buffer_feed(b, "h\n", 3), (std::vector<std::string>{"gh"}));
}

TEST(LogLines, RankPrefix) {
  EXPECT_EQ(rank_prefixed(2, {"x", "", "y z"}), "[rank 2] x\n[rank 2] \n[rank 2] y z\n");
  EXPECT_EQ(rank_prefixed(0, {}), "");
}

// The wait status of a child that runs f().
template <class F>
int status_of(F f) {
  const pid_t pid = fork();
  if (pid == 0) {
    f();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(ProcessStatus, WordsAndExitCodes) {
  const int exited3 = status_of([] { _exit(3); });
  EXPECT_EQ(process_status_str(exited3), "exited with status 3");
  EXPECT_EQ(process_exit_code(exited3), 3);
  const int ok = status_of([] {});
  EXPECT_EQ(process_exit_code(ok), 0);
  const int killed = status_of([] { kill(getpid(), SIGKILL); });
  EXPECT_EQ(process_status_str(killed), "was killed by signal 9 (SIGKILL)");
  EXPECT_EQ(process_exit_code(killed), 137);
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGINT), "SIGINT");
  EXPECT_EQ(signal_name(40), "signal 40");
}

TEST(ProcessFind, LooksUpPathLikeExec) {
  test::TempDir dir;
  const std::string plain = dir.file("tool");
  test::write_text(plain, "#!/bin/sh\n");  // not executable: skipped
  const std::string bin = dir.path() + "/bin";
  mkdir(bin.c_str(), 0755);
  test::write_text(bin + "/tool", "#!/bin/sh\n");
  chmod((bin + "/tool").c_str(), 0755);
  EXPECT_EQ(process_find_executable("tool", dir.path() + ":" + bin), bin + "/tool");
  EXPECT_EQ(process_find_executable("tool", "/nonexistent"), std::nullopt);
  EXPECT_EQ(process_find_executable("sh", "/nonexistent:/bin"), "/bin/sh");
  EXPECT_EQ(process_find_executable("./x/y", ""), "./x/y");  // a path is taken as it is
  EXPECT_EQ(process_find_executable("", "/bin"), std::nullopt);
  EXPECT_EQ(process_find_executable("bin", dir.path()), std::nullopt);  // a directory is no program
}

std::string read_all(net::Fd& fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    pollfd p{fd.get(), POLLIN, 0};
    poll(&p, 1, 5000);
    const ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

TEST(ProcessSpawn, EnvironmentStreamsGroupAndSignals) {
  // The child reports its environment, its process group, whether stdin is empty and how SIGHUP
  // is set up (asked to start ignored), on stdout and stderr.
  const std::vector<std::string> argv = {
      "sh", "-c",
      "read -r _ _ _ _ pgid _ < /proc/$$/stat; echo \"$FOO $pgid $$\"; cat; grep SigIgn /proc/$$/status | cut -f2 >&2"};
  SpawnedProcess p = process_spawn(argv, {{"FOO", "bar"}, {"PATH", "/usr/bin:/bin"}}, {{SIGHUP, true}, {SIGTERM, false}});
  const std::string out = read_all(p.out);
  const std::string err = read_all(p.err);
  int status = 0;
  waitpid(p.pid, &status, 0);
  EXPECT_EQ(process_exit_code(status), 0);
  EXPECT_EQ(out, "bar " + std::to_string(p.pid) + " " + std::to_string(p.pid) + "\n");  // own group; stdin empty
  const unsigned long ignored = std::stoul(err, nullptr, 16);
  EXPECT_TRUE(ignored & (1ul << (SIGHUP - 1))) << err;
  EXPECT_FALSE(ignored & (1ul << (SIGTERM - 1))) << err;
}

TEST(ProcessSpawn, MissingProgramIsBadInput) {
  try {
    process_spawn({"/nonexistent/prog"}, {}, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/prog"), std::string::npos) << e.what();
  }
  EXPECT_THROW(process_spawn({"no-such-program-anywhere"}, {{"PATH", "/bin"}}, {}), Error);
}

}  // namespace
}  // namespace ps
