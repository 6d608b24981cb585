// launcher_run with fake workers: `/bin/sh -c` scripts that branch on $RANK, report their pids
// in files, and fail or hang on cue. Every test checks the processes are gone afterwards.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/core/error.h"
#include "runtime/launch/launcher.h"
#include "support/test_support.h"

namespace ps {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Outcome {
  int code = -1;
  std::string out, err;
  double seconds = 0;
};

// A job of `n` ranks running `script`; $DIR is a fresh directory for the script's files.
struct FakeJob {
  test::TempDir dir;
  LaunchSpec spec;

  FakeJob(int n, const std::string& script, std::chrono::milliseconds grace = 1000ms) {
    spec.worker_argv = {"/bin/sh", "-c", script};
    spec.world = n;
    for (int r = 0; r < n; ++r) spec.ranks.push_back(r);
    spec.master_port = 29999;
    spec.grace = grace;
    spec.extra_env = {{"DIR", dir.path()}};
    spec.name = "test";
  }

  Outcome run() {
    const std::string out_path = dir.file("launcher.out"), err_path = dir.file("launcher.err");
    spec.out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    spec.err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const auto t0 = Clock::now();
    Outcome o;
    o.code = launcher_run(spec);
    o.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    close(spec.out_fd);
    close(spec.err_fd);
    o.out = test::read_text(out_path);
    o.err = test::read_text(err_path);
    return o;
  }

  // The pid a script wrote to $DIR/<name>.
  pid_t pid(const std::string& name) const { return static_cast<pid_t>(std::stol(test::read_text(dir.file(name)))); }
  bool has(const std::string& name) const { return test::file_exists(dir.file(name)); }
};

// Alive = exists and is not a zombie (a zombie whose parent is gone waits for init to reap it).
bool alive(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return false;
  const auto close_paren = stat.rfind(')');
  return close_paren != std::string::npos && stat.size() > close_paren + 2 && stat[close_paren + 2] != 'Z';
}

// For a grandchild: the launcher has SIGKILLed it but does not reap it (init does), so allow the
// kernel a moment to finish it off. A worker itself is reaped by the launcher: check it with alive().
bool dies(pid_t pid) {
  for (int i = 0; i < 250; ++i) {
    if (!alive(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream is(text);
  for (std::string l; std::getline(is, l);) lines.push_back(l);
  std::sort(lines.begin(), lines.end());
  return lines;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Shell fragments. `ready NAME` writes the shell's pid to $DIR/NAME atomically; `await A B ...`
// waits until those files exist; `sleep 30 & echo $! > ...; wait` leaves a grandchild to check.
const std::string kHelpers =
    "ready() { echo $$ > \"$DIR/$1.tmp\" && mv \"$DIR/$1.tmp\" \"$DIR/$1\"; }\n"
    "await() { for f in \"$@\"; do while [ ! -f \"$DIR/$f\" ]; do sleep 0.02; done; done; }\n"
    "hang() { sleep 30 & echo $! > \"$DIR/child.$RANK\"; ready pid.$RANK; wait; }\n";

TEST(Launcher, AllSucceedAndLinesCarryTheirRank) {
  FakeJob job(3, "echo \"out $RANK of $WORLD_SIZE local $LOCAL_RANK/$LOCAL_WORLD_SIZE group $GROUP_RANK\"; "
                 "echo \"err $RANK\" >&2; printf 'tail without newline'");
  const Outcome o = job.run();
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(sorted_lines(o.out),
            (std::vector<std::string>{"[rank 0] out 0 of 3 local 0/3 group 0", "[rank 0] tail without newline",
                                      "[rank 1] out 1 of 3 local 1/3 group 0", "[rank 1] tail without newline",
                                      "[rank 2] out 2 of 3 local 2/3 group 0", "[rank 2] tail without newline"}));
  EXPECT_EQ(sorted_lines(o.err), (std::vector<std::string>{"[rank 0] err 0", "[rank 1] err 1", "[rank 2] err 2"}));
}

TEST(Launcher, WorkersShareTheJobTokenAndTheMaster) {
  FakeJob job(2, "echo \"$PIPESHARD_JOB_TOKEN $MASTER_ADDR:$MASTER_PORT $PIPESHARD_LAUNCHER\"");
  const Outcome o = job.run();
  ASSERT_EQ(o.code, 0) << o.err;
  const auto lines = sorted_lines(o.out);
  ASSERT_EQ(lines.size(), 2u);
  const std::string token = lines[0].substr(9, 32);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << token;
  EXPECT_EQ(lines[0], "[rank 0] " + token + " 127.0.0.1:29999 pipeshard");
  EXPECT_EQ(lines[1], "[rank 1] " + token + " 127.0.0.1:29999 pipeshard");

  job.spec.job_token = "given-token";
  EXPECT_EQ(sorted_lines(job.run().out)[0], "[rank 0] given-token 127.0.0.1:29999 pipeshard");
}

TEST(Launcher, LinesNeverInterleave) {
  // Long lines cross the pipe's read boundaries; every printed line must still be one whole line.
  FakeJob job(2, "pad=$(printf '%3000s' '' | tr ' ' x); i=0; "
                 "while [ $i -lt 100 ]; do echo \"$RANK-$i-$pad\"; i=$((i+1)); done");
  const Outcome o = job.run();
  ASSERT_EQ(o.code, 0) << o.err;
  const std::string pad(3000, 'x');
  int next[2] = {0, 0};
  std::istringstream is(o.out);
  for (std::string l; std::getline(is, l);) {
    ASSERT_TRUE(l == "[rank 0] 0-" + std::to_string(next[0]) + "-" + pad ||
                l == "[rank 1] 1-" + std::to_string(next[1]) + "-" + pad)
        << l.substr(0, 40);
    ++next[l[6] - '0'];
  }
  EXPECT_EQ(next[0], 100);
  EXPECT_EQ(next[1], 100);
}

TEST(Launcher, OneFailsTheOthersAreStopped) {
  FakeJob job(3, kHelpers + "if [ $RANK = 1 ]; then await pid.0 pid.2; echo failing >&2; exit 3; fi; hang");
  const Outcome o = job.run();
  EXPECT_EQ(o.code, 3);
  EXPECT_TRUE(contains(o.err, "[rank 1] failing\n")) << o.err;
  EXPECT_TRUE(contains(o.err, "test: rank 1 exited with status 3; stopped the other 2 ranks\n")) << o.err;
  EXPECT_LT(o.seconds, 1.0 + 5.0);  // not a timing test: the workers would hang for 30 s
  for (const char* f : {"pid.0", "pid.2"}) EXPECT_FALSE(alive(job.pid(f))) << f;
  for (const char* f : {"child.0", "child.2"}) EXPECT_TRUE(dies(job.pid(f))) << f;
}

TEST(Launcher, BadInputStatusIsKept) {
  FakeJob job(2, kHelpers + "if [ $RANK = 0 ]; then exit 2; fi; hang");
  EXPECT_EQ(job.run().code, 2);
}

TEST(Launcher, KilledBySignalIsNamed) {
  FakeJob job(2, kHelpers + "if [ $RANK = 0 ]; then await pid.1; kill -9 $$; fi; hang");
  const Outcome o = job.run();
  EXPECT_EQ(o.code, 128 + SIGKILL);
  EXPECT_TRUE(contains(o.err, "test: rank 0 was killed by signal 9 (SIGKILL); stopped the other 1 rank\n")) << o.err;
  EXPECT_FALSE(alive(job.pid("pid.1")));
  EXPECT_TRUE(dies(job.pid("child.1")));
}

TEST(Launcher, AWorkerIgnoringSigtermIsKilledAfterTheGrace) {
  // `trap '' TERM` also makes the shell's children ignore it: only SIGKILL stops this rank.
  FakeJob job(2, kHelpers + "if [ $RANK = 1 ]; then await pid.0; exit 1; fi; trap '' TERM; hang", 300ms);
  const Outcome o = job.run();
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(contains(o.err, "test: rank 0 did not stop within 300 ms; sending SIGKILL\n")) << o.err;
  EXPECT_TRUE(contains(o.err, "test: rank 1 exited with status 1; stopped the other 1 rank\n")) << o.err;
  EXPECT_LT(o.seconds, 0.3 + 5.0);
  EXPECT_FALSE(alive(job.pid("pid.0")));
  EXPECT_TRUE(dies(job.pid("child.0")));
}

TEST(Launcher, AWorkersLeftoversDieWithIt) {
  // Rank 0 exits 0 but leaves a background process in its group; the job still ends, and so does it.
  FakeJob job(1, "sleep 30 & echo $! > \"$DIR/child\"; exit 0");
  const Outcome o = job.run();
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_LT(o.seconds, 5.0);
  EXPECT_TRUE(dies(job.pid("child")));
}

// Sends `sig` to this process once `ready` holds; launcher_run handles it meanwhile.
std::thread signal_when(std::function<bool()> ready, int sig) {
  return std::thread([ready, sig] {
    while (!ready()) std::this_thread::sleep_for(10ms);
    kill(getpid(), sig);
  });
}

TEST(Launcher, SigtermIsForwarded) {
  FakeJob job(2, kHelpers + "trap 'echo \"rank $RANK got TERM\"; exit 0' TERM; hang");
  std::thread t = signal_when([&] { return job.has("pid.0") && job.has("pid.1"); }, SIGTERM);
  const Outcome o = job.run();
  t.join();
  EXPECT_EQ(o.code, 128 + SIGTERM);
  EXPECT_TRUE(contains(o.out, "[rank 0] rank 0 got TERM\n")) << o.out;
  EXPECT_TRUE(contains(o.out, "[rank 1] rank 1 got TERM\n")) << o.out;
  EXPECT_TRUE(contains(o.err, "test: received SIGTERM; forwarding it to 2 ranks (SIGKILL in 1 s)\n")) << o.err;
  EXPECT_TRUE(contains(o.err, "test: stopped by SIGTERM; 2 ranks were running\n")) << o.err;
  EXPECT_FALSE(alive(job.pid("pid.0")));
}

TEST(Launcher, ASecondSignalKillsAtOnce) {
  // The workers ignore SIGINT and the grace is long: only the second SIGINT ends the job early.
  FakeJob job(2, kHelpers + "trap '' INT; hang", 60s);
  std::thread first = signal_when([&] { return job.has("pid.0") && job.has("pid.1"); }, SIGINT);
  std::thread second = signal_when(
      [&] { return test::file_exists(job.dir.file("launcher.err")) && contains(test::read_text(job.dir.file("launcher.err")), "received SIGINT;"); },
      SIGINT);
  const Outcome o = job.run();
  first.join();
  second.join();
  EXPECT_EQ(o.code, 128 + SIGINT);
  EXPECT_TRUE(contains(o.err, "test: received SIGINT again; killing 2 ranks\n")) << o.err;
  EXPECT_LT(o.seconds, 25.0);  // without the second signal: 30 s
  EXPECT_TRUE(dies(job.pid("child.0")));
}

TEST(Launcher, WorkersDieWithTheLauncher) {
  // `pipeshard launch` killed by SIGKILL cannot stop anyone: PR_SET_PDEATHSIG does. `exec sleep`
  // keeps the worker's pid, which it writes with its launcher's ($PPID) first.
  test::TempDir dir;
  std::thread t([&] {
    test::run_pipeshard({"launch", "--nproc-per-node", "2", "--master-port", "29612", "--", "/bin/sh", "-c",
                         "echo $PPID > \"$0/l.$RANK\"; mv \"$0/l.$RANK\" \"$0/l\"; "
                         "echo $$ > \"$0/w.$RANK.tmp\"; mv \"$0/w.$RANK.tmp\" \"$0/w.$RANK\"; exec sleep 30",
                         dir.path()},
                        20);
  });
  auto ready = [&] {
    return test::file_exists(dir.file("w.0")) && test::file_exists(dir.file("w.1")) && test::file_exists(dir.file("l"));
  };
  while (!ready()) std::this_thread::sleep_for(10ms);
  const auto pid = [&](const char* f) { return static_cast<pid_t>(std::stol(test::read_text(dir.file(f)))); };
  kill(pid("l"), SIGKILL);
  t.join();
  for (const char* w : {"w.0", "w.1"}) EXPECT_TRUE(dies(pid(w))) << w << " outlived its launcher";
}

TEST(Launcher, BadSpecsAreBadInput) {
  FakeJob job(2, "true");
  auto expect_bad = [](LaunchSpec s, const char* part) {
    try {
      launcher_run(s);
      ADD_FAILURE() << "no error for " << part;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
      EXPECT_TRUE(contains(e.what(), part)) << e.what();
    }
  };
  LaunchSpec s = job.spec;
  s.ranks = {0, 2};
  expect_bad(s, "rank 2 is not below the world size 2");
  s.ranks = {1, 1};
  expect_bad(s, "rank 1 is listed twice");
  s = job.spec;
  s.nnodes = 2;
  expect_bad(s, "PIPESHARD_JOB_TOKEN");
  s.node_rank = 2;
  expect_bad(s, "node rank 2");
  s = job.spec;
  s.worker_argv = {"/nonexistent/worker"};
  expect_bad(s, "rank 0: cannot run the worker program '/nonexistent/worker'");
}

TEST(Launcher, NodeRanksAndEnvironment) {
  EXPECT_EQ(launch_node_ranks(2, 3), (std::vector<int>{6, 7, 8}));
  LaunchSpec s;
  s.nnodes = 3;
  s.node_rank = 2;
  s.ranks = launch_node_ranks(2, 3);
  s.world = 9;
  s.master_addr = "head";
  s.master_port = 1234;
  s.extra_env = {{"EXTRA", "1"}, {"RANK", "99"}};
  const EnvMap env = launch_worker_env(s, 1, "tok",
                                       {{"PATH", "/bin"}, {"RANK", "5"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
  const EnvMap expected = {{"PATH", "/bin"},        {"EXTRA", "1"},          {"RANK", "7"},
                           {"LOCAL_RANK", "1"},     {"WORLD_SIZE", "9"},     {"LOCAL_WORLD_SIZE", "3"},
                           {"GROUP_RANK", "2"},     {"GROUP_WORLD_SIZE", "3"}, {"MASTER_ADDR", "head"},
                           {"MASTER_PORT", "1234"}, {"PIPESHARD_JOB_TOKEN", "tok"}, {"PIPESHARD_LAUNCHER", "pipeshard"}};
  EXPECT_EQ(env, expected);
}

TEST(Launcher, FreePortIsBindable) {
  const int port = launch_free_port();
  ASSERT_GT(port, 0);
  ASSERT_LE(port, 65535);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  close(fd);
}

}  // namespace
}  // namespace ps
