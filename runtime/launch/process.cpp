#include "runtime/launch/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/core/error.h"

namespace ps {

namespace {

// Everything the child uses between fork and exec, prepared by the parent: after fork() in a
// multi-threaded process only async-signal-safe calls are allowed, so no allocation there.
struct ChildSetup {
  const char* exe = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  pid_t parent = 0;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  int status_fd = -1;  // close-on-exec: EOF tells the parent exec succeeded, an errno that it failed
  const std::vector<SignalDisposition>* signals = nullptr;
};

[[noreturn]] void child_fail(int status_fd) {
  const int e = errno;
  ssize_t n = write(status_fd, &e, sizeof e);
  (void)n;
  _exit(127);
}

[[noreturn]] void child_exec(const ChildSetup& s) {
  setpgid(0, 0);  // the parent does it too: whichever runs first, the group exists before a signal
  // Arm the death signal, then check the parent is still ours: had it died before prctl, we were
  // already re-parented and the signal would never come.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(s.status_fd);
  if (getppid() != s.parent) _exit(127);
  if (dup2(s.stdin_fd, 0) < 0 || dup2(s.stdout_fd, 1) < 0 || dup2(s.stderr_fd, 2) < 0) child_fail(s.status_fd);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  for (const SignalDisposition& d : *s.signals) {
    sa.sa_handler = d.ignore ? SIG_IGN : SIG_DFL;
    sigaction(d.sig, &sa, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);  // the parent blocked everything around fork()
  execve(s.exe, s.argv, s.envp);
  child_fail(s.status_fd);
}

// A close-on-exec copy of fd numbered 3 or more, so that the child's dup2 onto 0, 1 and 2 can
// never overwrite one of its own sources (a launcher started with a standard stream closed).
net::Fd above_stdio(int fd) {
  if (fd < 0) fail_runtime("starting a worker: ", std::strerror(errno));
  if (fd > 2) return net::Fd(fd);
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  const int e = errno;
  close(fd);
  if (moved < 0) fail_runtime("starting a worker: fcntl: ", std::strerror(e));
  return net::Fd(moved);
}

void make_pipe(net::Fd& read_end, net::Fd& write_end) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) fail_runtime("starting a worker: pipe: ", std::strerror(errno));
  read_end = above_stdio(p[0]);
  write_end = above_stdio(p[1]);
}

}  // namespace

std::optional<std::string> process_find_executable(const std::string& name, const std::string& path_var) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return name;
  size_t start = 0;
  while (start <= path_var.size()) {
    size_t colon = path_var.find(':', start);
    if (colon == std::string::npos) colon = path_var.size();
    // POSIX: an empty PATH entry is the current directory.
    const std::string candidate = (colon == start ? std::string(".") : path_var.substr(start, colon - start)) + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = colon + 1;
  }
  return std::nullopt;
}

SpawnedProcess process_spawn(const std::vector<std::string>& argv, const EnvMap& env,
                             const std::vector<SignalDisposition>& signals) {
  PS_CHECK(!argv.empty());
  const auto path = env.find("PATH");
  const auto exe = process_find_executable(argv[0], path == env.end() ? "/usr/local/bin:/usr/bin:/bin" : path->second);
  if (!exe) fail_input("cannot find the worker program '", argv[0], "' on PATH");

  std::vector<char*> argp;
  for (const auto& a : argv) argp.push_back(const_cast<char*>(a.c_str()));
  argp.push_back(nullptr);
  std::vector<std::string> env_kv;
  for (const auto& [k, v] : env) env_kv.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (const auto& kv : env_kv) envp.push_back(const_cast<char*>(kv.c_str()));
  envp.push_back(nullptr);

  SpawnedProcess proc;
  net::Fd out_w, err_w, status_r, status_w;
  make_pipe(proc.out, out_w);
  make_pipe(proc.err, err_w);
  make_pipe(status_r, status_w);
  net::Fd devnull = above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));

  ChildSetup setup{exe->c_str(), argp.data(), envp.data(), getpid(), devnull.get(), out_w.get(),
                   err_w.get(), status_w.get(), &signals};
  // Block every signal across fork() so that none runs the launcher's handler inside the child
  // before it has reset its dispositions (the handler would write into the launcher's self-pipe).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  const pid_t pid = fork();
  if (pid == 0) child_exec(setup);
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) fail_runtime("starting '", argv[0], "': fork: ", std::strerror(fork_errno));
  setpgid(pid, pid);  // may fail with EACCES once the child has exec'd: it did it itself then
  out_w.reset();
  err_w.reset();
  status_w.reset();

  int child_errno = 0;
  ssize_t n;
  do {
    n = read(status_r.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n != 0) {  // exec (or the set-up before it) failed: reap the child, report its errno
    waitpid(pid, nullptr, 0);
    if (n == sizeof child_errno && (child_errno == ENOENT || child_errno == EACCES || child_errno == ENOEXEC))
      fail_input("cannot run the worker program '", *exe, "': ", std::strerror(child_errno));
    fail_runtime("cannot start the worker program '", *exe, "': ",
                 n == sizeof child_errno ? std::strerror(child_errno) : "the child failed before exec");
  }
  proc.pid = pid;
  net::set_nonblocking(proc.out.get());
  net::set_nonblocking(proc.err.get());
  return proc;
}

std::string process_self_exe() {
  std::string path(4096, '\0');
  const ssize_t n = readlink("/proc/self/exe", path.data(), path.size());
  if (n <= 0 || static_cast<size_t>(n) >= path.size())
    fail_runtime("cannot find this program's path: readlink /proc/self/exe: ", std::strerror(errno));
  path.resize(static_cast<size_t>(n));
  return path;
}

std::string signal_name(int sig) {
  // sigabbrev_np() would do, but needs glibc 2.32; clusters still run older ones.
  static const struct {
    int sig;
    const char* name;
  } names[] = {{SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
               {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
               {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
               {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGXCPU, "SIGXCPU"},
               {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"}};
  for (const auto& n : names)
    if (n.sig == sig) return n.name;
  return str("signal ", sig);
}

std::string process_status_str(int wait_status) {
  if (WIFEXITED(wait_status)) return str("exited with status ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    const std::string name = signal_name(sig);
    return str("was killed by signal ", sig, name.rfind("SIG", 0) == 0 ? " (" + name + ")" : std::string(),
               WCOREDUMP(wait_status) ? " (core dumped)" : "");
  }
  return str("ended with wait status ", wait_status);
}

int process_exit_code(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

}  // namespace ps
