#include "runtime/launch/launcher.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "runtime/comm/job_token.h"
#include "runtime/comm/net.h"
#include "runtime/comm/store_protocol.h"
#include "runtime/core/error.h"
#include "runtime/launch/log_lines.h"
#include "runtime/launch/process.h"
#include "runtime/launch/signal_pipe.h"

namespace ps {

namespace {

using Clock = std::chrono::steady_clock;

// ---- workers ----------------------------------------------------------------------------------

struct Worker {
  int rank = 0;
  SpawnedProcess proc;
  LineBuffer out_lines, err_lines;
  bool running = true;
  int status = 0;  // wait status, once reaped
};

// Kills and reaps whatever still runs when launcher_run unwinds (a worker that cannot be started
// after others were): no orphan and no zombie on any path.
struct WorkerSet {
  std::vector<Worker> workers;
  WorkerSet() = default;
  WorkerSet(const WorkerSet&) = delete;
  WorkerSet& operator=(const WorkerSet&) = delete;
  ~WorkerSet() {
    for (auto& w : workers) {
      if (!w.running) continue;
      killpg(w.proc.pid, SIGKILL);
      waitpid(w.proc.pid, nullptr, 0);
    }
  }
};

void write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed or broken stream: the job goes on without its log
    done += static_cast<size_t>(n);
  }
}

// One read from a worker's stream; prints the lines it completes. Closes the stream at EOF.
void pump(net::Fd& fd, LineBuffer& lines, int rank, int to_fd) {
  char buf[65536];
  const ssize_t n = read(fd.get(), buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n > 0) {
    write_all(to_fd, rank_prefixed(rank, line_buffer_feed(lines, std::string_view(buf, static_cast<size_t>(n)))));
    return;
  }
  if (auto last = line_buffer_flush(lines)) write_all(to_fd, rank_prefixed(rank, {*last}));
  fd.reset();
}

// ---- the event loop ---------------------------------------------------------------------------

struct Job {
  const LaunchSpec& spec;
  WorkerSet& set;
  enum class Cause { None, RankFailed, Signalled } cause = Cause::None;
  int failed_rank = -1;
  int failed_status = 0;
  int stop_signal = 0;       // the launcher's own signal, Cause::Signalled
  int others_running = 0;    // ranks still running when the cause happened
  bool stopping = false, killed = false;
  Clock::time_point kill_at{};
  std::vector<pid_t> exit_order{};  // pids from SIGCHLD, in the order the kernel raised them

  void say(const std::string& msg) const { write_all(spec.err_fd, spec.name + ": " + msg + "\n"); }
  int running() const {
    int n = 0;
    for (const auto& w : set.workers) n += w.running ? 1 : 0;
    return n;
  }
  void signal_all(int sig) {
    for (auto& w : set.workers)
      if (w.running) killpg(w.proc.pid, sig);
  }
  void begin_stop(int sig) {
    stopping = true;
    kill_at = Clock::now() + spec.grace;
    signal_all(sig);
  }
  void kill_all() {
    killed = true;
    signal_all(SIGKILL);
  }
};

std::string ranks_str(int n) { return str(n, n == 1 ? " rank" : " ranks"); }

void on_signal(Job& job, int sig, pid_t pid) {
  if (sig == SIGCHLD) {  // reap() runs after every wake-up; this only records who went first
    job.exit_order.push_back(pid);
    return;
  }
  if (job.cause == Job::Cause::None) {
    job.cause = Job::Cause::Signalled;
    job.stop_signal = sig;
    job.others_running = job.running();
  }
  if (!job.stopping) {
    job.say(str("received ", signal_name(sig), "; forwarding it to ", ranks_str(job.running()), " (SIGKILL in ",
                duration_str(job.spec.grace), ")"));
    job.begin_stop(sig);
  } else if (!job.killed) {
    job.say(str("received ", signal_name(sig), " again; killing ", ranks_str(job.running())));
    job.kill_all();
  }
}

// Where `w` stands among the exits SIGCHLD reported; unreported ones come after, by rank.
size_t exit_position(const Job& job, const Worker& w) {
  const auto it = std::find(job.exit_order.begin(), job.exit_order.end(), w.proc.pid);
  return static_cast<size_t>(it - job.exit_order.begin());
}

void reap(Job& job) {
  Worker* first_failed = nullptr;
  for (auto& w : job.set.workers) {
    if (!w.running) continue;
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    // WNOWAIT: look without reaping. While the worker is a zombie its pid -- the id of its
    // process group -- cannot be reused, so killing the group cannot hit another process.
    if (waitid(P_PID, static_cast<id_t>(w.proc.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      fail_runtime("rank ", w.rank, ": lost its worker process (pid ", w.proc.pid, "): ", std::strerror(errno));
    }
    if (info.si_pid == 0) continue;  // still running
    killpg(w.proc.pid, SIGKILL);     // whatever the worker started and left behind
    int status = 0;
    while (waitpid(w.proc.pid, &status, 0) < 0 && errno == EINTR) {
    }
    w.running = false;
    w.status = status;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    // Several failures seen in one pass (a crash, then its peers losing their connection to
    // it): the one the kernel reported first is the cause.
    if (!ok && (!first_failed || exit_position(job, w) < exit_position(job, *first_failed))) first_failed = &w;
  }
  if (!first_failed || job.cause != Job::Cause::None) return;
  job.cause = Job::Cause::RankFailed;
  job.failed_rank = first_failed->rank;
  job.failed_status = first_failed->status;
  job.others_running = job.running();  // those that ended at the same time did so on their own
  if (!job.stopping) job.begin_stop(SIGTERM);
}

void kill_if_due(Job& job) {
  if (!job.stopping || job.killed || Clock::now() < job.kill_at) return;
  std::string late;
  for (const auto& w : job.set.workers)
    if (w.running) late += (late.empty() ? "" : ", ") + std::to_string(w.rank);
  if (!late.empty())
    job.say(str(job.running() == 1 ? "rank " : "ranks ", late, " did not stop within ", duration_str(job.spec.grace),
                "; sending SIGKILL"));
  job.kill_all();
}

void event_loop(Job& job, SignalPipe& signals) {
  std::vector<pollfd> fds;
  std::vector<std::pair<Worker*, bool>> owners;  // fds[i + 1] belongs to (worker, is stderr)
  while (job.running() > 0) {
    fds.assign(1, pollfd{signals.fd(), POLLIN, 0});
    owners.clear();
    for (auto& w : job.set.workers) {
      if (w.proc.out.valid()) {
        fds.push_back({w.proc.out.get(), POLLIN, 0});
        owners.push_back({&w, false});
      }
      if (w.proc.err.valid()) {
        fds.push_back({w.proc.err.get(), POLLIN, 0});
        owners.push_back({&w, true});
      }
    }
    int timeout = -1;
    if (job.stopping && !job.killed) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(job.kill_at - Clock::now()).count();
      timeout = static_cast<int>(std::max<long long>(0, left));
    }
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
      fail_runtime("launcher: poll: ", std::strerror(errno));
    // Read even when poll() said nothing: a handler that interrupted it (EINTR) leaves no revents.
    for (const SignalEvent& e : signals.read_events()) on_signal(job, e.sig, e.pid);
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Worker& w = *owners[i - 1].first;
      const bool is_err = owners[i - 1].second;
      pump(is_err ? w.proc.err : w.proc.out, is_err ? w.err_lines : w.out_lines, w.rank,
           is_err ? job.spec.err_fd : job.spec.out_fd);
    }
    reap(job);
    kill_if_due(job);
  }
}

// Every worker is reaped and its group killed; what is still in the pipes is printed. A stream
// is not waited on to its end: a process that left the group could hold it open forever.
void drain(Job& job) {
  for (auto& w : job.set.workers) {
    for (int pass = 0; pass < 2; ++pass) {
      net::Fd& fd = pass == 0 ? w.proc.out : w.proc.err;
      LineBuffer& lines = pass == 0 ? w.out_lines : w.err_lines;
      const int to = pass == 0 ? job.spec.out_fd : job.spec.err_fd;
      // A pipe holds at most a few reads' worth; the bound stops a stray writer keeping us here.
      for (int reads = 0; fd.valid() && reads < 64; ++reads) {
        pollfd p{fd.get(), POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) break;
        pump(fd, lines, w.rank, to);
      }
      if (auto last = line_buffer_flush(lines)) write_all(to, rank_prefixed(w.rank, {*last}));
      fd.reset();
    }
  }
}

int finish(const Job& job) {
  const std::string others = job.spec.nnodes > 1 ? " on this node" : "";
  switch (job.cause) {
    case Job::Cause::None:
      return 0;
    case Job::Cause::RankFailed:
      job.say(str("rank ", job.failed_rank, " ", process_status_str(job.failed_status),
                  job.others_running == 0 ? str("; no other rank", others, " was running")
                                          : str("; stopped the other ", ranks_str(job.others_running), others)));
      return process_exit_code(job.failed_status);
    case Job::Cause::Signalled:
      job.say(str("stopped by ", signal_name(job.stop_signal), "; ", ranks_str(job.others_running), others,
                  job.others_running == 1 ? " was" : " were", " running"));
      return 128 + job.stop_signal;
  }
  return 1;
}

void check_spec(const LaunchSpec& s) {
  if (s.worker_argv.empty() || s.worker_argv[0].empty()) fail_input("no worker command given");
  if (s.nnodes < 1) fail_input("the number of nodes must be >= 1 (got ", s.nnodes, ")");
  if (s.node_rank < 0 || s.node_rank >= s.nnodes)
    fail_input("node rank ", s.node_rank, " is not in 0..", s.nnodes - 1);
  if (s.world < 1) fail_input("the world size must be >= 1 (got ", s.world, ")");
  if (s.ranks.empty()) fail_input("this node runs no rank");
  std::set<int> seen;
  for (int r : s.ranks) {
    if (r < 0 || r >= s.world) fail_input("rank ", r, " is not below the world size ", s.world);
    if (!seen.insert(r).second) fail_input("rank ", r, " is listed twice");
  }
  if (s.master_addr.empty()) fail_input("no master address");
  if (s.master_port < 1 || s.master_port > 65535) fail_input("master port ", s.master_port, " is not in 1..65535");
  if (s.grace.count() < 0) fail_input("the grace period must be >= 0");
  if (s.job_token.size() > kStoreMaxToken) fail_input(kJobTokenEnv, " is longer than ", kStoreMaxToken, " bytes");
}

}  // namespace

std::vector<int> launch_node_ranks(int node_rank, int nproc_per_node) {
  std::vector<int> ranks;
  for (int i = 0; i < nproc_per_node; ++i) ranks.push_back(node_rank * nproc_per_node + i);
  return ranks;
}

EnvMap launch_worker_env(const LaunchSpec& spec, size_t local_index, const std::string& job_token,
                         const EnvMap& base) {
  PS_CHECK(local_index < spec.ranks.size());
  EnvMap env = base;
  env.erase("TORCHELASTIC_USE_AGENT_STORE");
  for (const auto& [k, v] : spec.extra_env) env[k] = v;
  env["RANK"] = std::to_string(spec.ranks[local_index]);
  env["LOCAL_RANK"] = std::to_string(local_index);
  env["WORLD_SIZE"] = std::to_string(spec.world);
  env["LOCAL_WORLD_SIZE"] = std::to_string(spec.ranks.size());
  env["GROUP_RANK"] = std::to_string(spec.node_rank);
  env["GROUP_WORLD_SIZE"] = std::to_string(spec.nnodes);
  env["MASTER_ADDR"] = spec.master_addr;
  env["MASTER_PORT"] = std::to_string(spec.master_port);
  env[kJobTokenEnv] = job_token;
  env["PIPESHARD_LAUNCHER"] = "pipeshard";
  return env;
}

int launch_free_port() {
  net::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) fail_runtime("picking a free port: socket: ", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    fail_runtime("picking a free port on 127.0.0.1: ", std::strerror(errno));
  return ntohs(addr.sin_port);
}

int launcher_run(const LaunchSpec& spec) {
  check_spec(spec);
  std::string token = spec.job_token;
  if (token.empty()) {
    if (spec.nnodes > 1)
      fail_input("a job over ", spec.nnodes, " nodes needs the same ", kJobTokenEnv,
                 " on every node; set it, e.g. export ", kJobTokenEnv, "=$(openssl rand -hex 16)");
    token = job_token_generate();
  }
  SignalPipe signals;  // before any worker starts, so that a Ctrl-C during start-up is seen
  const EnvMap base = env_current();
  WorkerSet set;
  set.workers.reserve(spec.ranks.size());
  const std::vector<SignalDisposition> child_signals = signals.child_signals();
  for (size_t i = 0; i < spec.ranks.size(); ++i) {
    Worker w;
    w.rank = spec.ranks[i];
    w.proc = with_context(str("rank ", w.rank), [&] {
      return process_spawn(spec.worker_argv, launch_worker_env(spec, i, token, base), child_signals);
    });
    set.workers.push_back(std::move(w));
  }
  Job job{spec, set};
  event_loop(job, signals);
  drain(job);
  return finish(job);
}

}  // namespace ps
