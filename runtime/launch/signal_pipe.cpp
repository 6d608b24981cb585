#include "runtime/launch/signal_pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "runtime/core/error.h"

namespace ps {

namespace {

// One record per signal: 8 bytes, so a write is atomic (< PIPE_BUF) and reads of a multiple of
// 8 bytes never split one.
struct Record {
  int32_t sig;
  int32_t pid;
};

// Lock-free atomics are async-signal-safe; the handler may run on any thread.
std::atomic<int> g_write_fd{-1};
std::atomic<bool> g_in_use{false};

extern "C" void signal_pipe_handler(int sig, siginfo_t* info, void*) {
  const int saved = errno;
  const Record r{sig, info ? static_cast<int32_t>(info->si_pid) : 0};
  ssize_t n = write(g_write_fd.load(), &r, sizeof r);  // a full pipe drops it: wake-ups are queued already
  (void)n;
  errno = saved;
}

}  // namespace

SignalPipe::SignalPipe() {
  if (g_in_use.exchange(true)) fail_runtime("launcher: another launcher runs in this process");
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
    g_in_use = false;
    fail_runtime("launcher: pipe: ", std::strerror(errno));
  }
  read_ = net::Fd(p[0]);
  write_ = net::Fd(p[1]);
  g_write_fd.store(write_.get());
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_sigaction = signal_pipe_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction now;
    sigaction(sig, nullptr, &now);
    if (now.sa_handler != SIG_IGN) install(sig, sa);  // ignored: stays so, here and in workers
  }
  sa.sa_flags |= SA_NOCLDSTOP;
  install(SIGCHLD, sa);
  std::memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = SIG_IGN;
  install(SIGPIPE, sa);
}

SignalPipe::~SignalPipe() {
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) sigaction(it->first, &it->second, nullptr);
  g_write_fd.store(-1);
  g_in_use = false;
}

void SignalPipe::install(int sig, const struct sigaction& sa) {
  struct sigaction old;
  sigaction(sig, &sa, &old);
  saved_.emplace_back(sig, old);
}

std::vector<SignalEvent> SignalPipe::read_events() {
  std::vector<SignalEvent> events;
  Record buf[64];
  ssize_t n;
  while ((n = read(read_.get(), buf, sizeof buf)) > 0)
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(Record); ++i) events.push_back({buf[i].sig, buf[i].pid});
  return events;
}

std::vector<SignalDisposition> SignalPipe::child_signals() const {
  std::vector<SignalDisposition> out;
  for (const auto& [sig, old] : saved_) out.push_back({sig, old.sa_handler == SIG_IGN});
  return out;
}

}  // namespace ps
