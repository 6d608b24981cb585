// Helpers for the integration tests: real `pipeshard` processes started in the background with an
// environment we choose, tiny models and plans written to a temporary directory, request files,
// ports held open, and /proc lookups of a job's workers. Header-only: the test folder's build
// compiles only *_test.cpp and tests/support.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"

extern char** environ;

namespace ps::integ {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Under CI every test must run: a missing tool or permission is a failure there, a skip elsewhere.
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && *ci && std::string(ci) != "0" && std::string(ci) != "false";
}

// ---- environments ---------------------------------------------------------------------------

using Env = std::map<std::string, std::string>;

// This process's environment without anything a launcher sets, so that a test decides alone
// which launcher a worker believes started it (ctest itself may run under SLURM or mpirun).
inline Env clean_env() {
  static const char* const kPrefixes[] = {"SLURM_", "OMPI_", "PMIX_", "PMI_", "TORCHELASTIC_", "PIPESHARD_"};
  static const char* const kNames[] = {"RANK",        "WORLD_SIZE",  "LOCAL_RANK",       "LOCAL_WORLD_SIZE",
                                       "GROUP_RANK",  "GROUP_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"};
  Env env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = kv.substr(0, eq);
    bool drop = false;
    for (const char* p : kPrefixes) drop = drop || k.rfind(p, 0) == 0;
    for (const char* n : kNames) drop = drop || k == n;
    if (!drop) env[k] = kv.substr(eq + 1);
  }
  return env;
}

inline Env with(Env env, const Env& more) {
  for (const auto& [k, v] : more) env[k] = v;
  return env;
}

// ---- background processes -------------------------------------------------------------------

// A child in a process group of its own, its stdout and stderr in files. The destructor kills the
// group and reaps the child, so a failing test leaves nothing running.
class Proc {
 public:
  Proc(const std::vector<std::string>& argv, const Env& env, const std::string& log_prefix)
      : out_path_(log_prefix + ".out"), err_path_(log_prefix + ".err") {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<std::string> env_kv;
    for (const auto& [k, v] : env) env_kv.push_back(k + "=" + v);
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (auto& kv : env_kv) envp.push_back(kv.data());
    envp.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &fa, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  ~Proc() {
    if (!status_) {
      ::kill(-pid_, SIGKILL);
      int st = 0;
      waitpid(pid_, &st, 0);
    }
  }
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  pid_t pid() const { return pid_; }
  // The exit code (128 + signal when killed), or nothing when still running at the deadline.
  std::optional<int> wait_for(std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!status_) {
      int st = 0;
      const pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        break;
      }
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(5ms);
    }
    return status_;
  }
  // Waits; a child still running at the deadline is killed and the test fails (never a hang).
  int wait(std::chrono::milliseconds limit = 120s) {
    if (auto code = wait_for(limit)) return *code;
    ADD_FAILURE() << "process " << pid_ << " still running after " << limit.count() << " ms; killed. stderr:\n" << err();
    ::kill(-pid_, SIGKILL);
    return wait_for(10s).value_or(-1);
  }
  bool done() { return wait_for(0ms).has_value(); }
  void kill_group(int sig) const { ::kill(-pid_, sig); }
  std::string out() const { return test::file_exists(out_path_) ? test::read_text(out_path_) : ""; }
  std::string err() const { return test::file_exists(err_path_) ? test::read_text(err_path_) : ""; }

 private:
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

inline std::string pipeshard_bin() { return PIPESHARD_BIN; }
inline std::string source_dir() { return PIPESHARD_SOURCE_DIR; }

// Runs `pipeshard args...` in the clean environment (plus `extra`) and waits for it.
inline test::CommandResult pipeshard(const std::vector<std::string>& args, const std::string& log_prefix,
                                     const Env& extra = {}, std::chrono::milliseconds limit = 120s) {
  std::vector<std::string> argv{pipeshard_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  Proc p(argv, with(clean_env(), extra), log_prefix);
  test::CommandResult r;
  r.exit_code = p.wait(limit);
  r.out = p.out();
  r.err = p.err();
  return r;
}

// Absolute path of a program on PATH, or "" when there is none.
inline std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(std::string(path ? path : "") + ":/usr/sbin:/sbin:/usr/bin:/bin");
  for (std::string dir; std::getline(ss, dir, ':');) {
    if (dir.empty()) continue;
    const std::string p = dir + "/" + name;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// ---- processes in /proc -------------------------------------------------------------------

// Exists and is not a zombie.
inline bool alive(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return false;
  const auto close_paren = stat.rfind(')');
  return close_paren != std::string::npos && stat.size() > close_paren + 2 && stat[close_paren + 2] != 'Z';
}

inline std::vector<std::string> nul_separated(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<std::string> parts;
  for (std::string part; std::getline(f, part, '\0');) parts.push_back(part);
  return parts;
}

// rank -> pid of the live `pipeshard worker` processes whose command line holds `marker` (a path
// unique to the test), the rank read from the RANK variable of their environment.
inline std::map<int, pid_t> worker_pids(const std::string& marker) {
  std::map<int, pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto argv = nul_separated(entry.path().string() + "/cmdline");
    if (argv.size() < 2 || argv[1] != "worker") continue;
    bool mine = false;
    for (const auto& a : argv) mine = mine || contains(a, marker);
    if (!mine) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (!alive(pid)) continue;
    for (const auto& kv : nul_separated(entry.path().string() + "/environ"))
      if (kv.rfind("RANK=", 0) == 0) out[std::stoi(kv.substr(5))] = pid;
  }
  return out;
}

// ---- ports ---------------------------------------------------------------------------------

// A TCP socket bound (and listening) on 127.0.0.1:port; port 0 picks a free one.
class HeldPort {
 public:
  explicit HeldPort(int port = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 16) != 0) {
      if (fd_ >= 0) close(fd_);
      fd_ = -1;
      return;
    }
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~HeldPort() { release(); }
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;
  bool ok() const { return fd_ >= 0; }
  int port() const { return port_; }
  void release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  // Whether anybody has connected (a pending connection to accept).
  bool was_connected() const {
    const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) close(c);
    return c >= 0;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port free right now on 127.0.0.1 (another process may take it before we use it; the tests
// that bind it in a child are short).
inline int free_port() {
  HeldPort p;
  return p.port();
}

// Two adjacent free ports, p and p + 1.
inline int free_port_pair() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    HeldPort a;
    if (a.port() >= 65535) continue;
    HeldPort b(a.port() + 1);
    if (b.ok()) return a.port();
  }
  throw std::runtime_error("no two adjacent free ports");
}

// ---- models, plans, requests --------------------------------------------------------------

// `pipeshard make-model --preset tiny` (6 layers: 0 embedding, 1-4 blocks, 5 head) into dir/family.
inline std::string make_model(const std::string& dir, const std::string& family) {
  const std::string out = dir + "/" + family;
  if (test::file_exists(out + "/config.json")) return out;
  const auto r = pipeshard({"make-model", "--family", family, "--preset", "tiny", "--dtype", "f32", "--seed", "1",
                            "--out", out},
                           dir + "/make-model-" + family);
  if (r.exit_code != 0) throw std::runtime_error("make-model failed: " + r.err);
  return out;
}

constexpr int kVocab = 512;  // the tiny presets' vocabulary

// Layer ranges of the tiny models split into `stages` contiguous stages.
inline std::vector<std::string> tiny_split(int stages) {
  switch (stages) {
    case 1: return {"0-5"};
    case 2: return {"0-2", "3-5"};
    case 3: return {"0-1", "2-3", "4-5"};
    case 4: return {"0-1", "2", "3", "4-5"};
    default: throw std::runtime_error("tiny_split: 1..4 stages");
  }
}

struct PlanSpec {
  std::string model;  // relative to the plan file
  int stages = 1;
  int batch = 8;
  int micro_batches = 1;
  int replicas = 1;
  std::string mode = "generate";
  int max_new_tokens = 8;         // generate mode only
  std::vector<int> nodes;         // per stage; empty: all on node 0
};

inline std::string write_plan(const std::string& path, const PlanSpec& s) {
  Json stages = Json::array();
  const auto split = tiny_split(s.stages);
  for (size_t i = 0; i < split.size(); ++i) {
    Json st = {{"layers", split[i]}, {"device", "cpu"}, {"threads", 1}};
    if (!s.nodes.empty()) st["node"] = s.nodes[i];
    stages.push_back(st);
  }
  Json workload = {{"mode", s.mode}};
  if (s.mode == "generate") workload["max_new_tokens"] = s.max_new_tokens;
  const Json plan = {{"model", s.model},
                     {"batch", s.batch},
                     {"micro_batches", s.micro_batches},
                     {"replicas", s.replicas},
                     {"workload", workload},
                     {"stages", stages}};
  test::write_text(path, plan.dump(2) + "\n");
  return path;
}

// Deterministic pseudo-random numbers (a test must not depend on the library's generators).
struct Lcg {
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed * 2862933555777941757ULL + 3037000493ULL) {}
  int next(int n) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((s >> 33) % static_cast<uint64_t>(n));
  }
};

inline std::vector<Json> read_jsonl(const std::string& path) {
  std::vector<Json> out;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(Json::parse(line));
  return out;
}

inline void write_jsonl(const std::string& path, const std::vector<Json>& lines) {
  std::string text;
  for (const auto& j : lines) text += j.dump() + "\n";
  test::write_text(path, text);
}

// `count` requests "q0".."q<count-1>" with prompts of 1..max_prompt tokens; each has its own
// max_new_tokens (1..max_new) except every fourth, which takes the plan's.
inline std::vector<Json> mixed_requests(int count, int max_prompt, int max_new, uint64_t seed) {
  Lcg rng(seed);
  std::vector<Json> out;
  for (int i = 0; i < count; ++i) {
    const int len = 1 + (i * 7 + rng.next(max_prompt)) % max_prompt;
    std::vector<int> prompt;
    for (int t = 0; t < len; ++t) prompt.push_back(rng.next(kVocab));
    std::string id = "q";  // not "q" + to_string(i): g++ 12 -O3 warns (-Wrestrict, a false positive)
    id += std::to_string(i);
    Json r = {{"id", id}, {"prompt_ids", prompt}};
    if (i % 4 != 3) r["max_new_tokens"] = 1 + rng.next(max_new);
    out.push_back(r);
  }
  return out;
}

// Result lines of a journal (its first line is the header).
inline size_t journal_results(const std::string& path) {
  std::ifstream f(path);
  size_t lines = 0;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) ++lines;
  return lines > 0 ? lines - 1 : 0;
}

}  // namespace ps::integ
