// The launcher's signals as a file descriptor that its event loop polls with the workers' pipes
// (the self-pipe trick): a handler may only do async-signal-safe work, so it writes one record
// per signal into a pipe, and the loop reads them in the order they came.
//
// While a SignalPipe lives, this process handles SIGINT, SIGTERM and SIGHUP (unless they were
// ignored when it started: `nohup`, a script's background job), SIGCHLD, and ignores SIGPIPE (the
// launcher's own output may be a closed pipe, `| head`: EPIPE, not death). The destructor restores
// what was there. One per process at a time: a handler can only find its pipe through a global.
#pragma once

#include <sys/types.h>

#include <signal.h>

#include <utility>
#include <vector>

#include "runtime/comm/net.h"
#include "runtime/launch/process.h"

namespace ps {

struct SignalEvent {
  int sig = 0;
  // The sender; for SIGCHLD the child whose exit raised it. SIGCHLDs that arrive while one is
  // pending merge into it and keep its pid, so the first SIGCHLD names the first child to exit.
  pid_t pid = 0;
};

class SignalPipe {
 public:
  SignalPipe();  // Runtime error when another SignalPipe lives in this process
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  int fd() const { return read_.get(); }
  // Every event queued so far, oldest first; none when nothing is queued (never blocks).
  std::vector<SignalEvent> read_events();
  // What a worker must reset before exec: the launcher's handlers become the dispositions the
  // launcher itself was given (an ignored signal stays ignored).
  std::vector<SignalDisposition> child_signals() const;

 private:
  void install(int sig, const struct sigaction& sa);

  net::Fd read_, write_;
  std::vector<std::pair<int, struct sigaction>> saved_;
};

}  // namespace ps
