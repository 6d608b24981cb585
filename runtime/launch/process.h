// Starting worker processes for the launcher (Linux): fork + exec with the child's stdout and
// stderr on pipes, stdin on /dev/null, in a process group of its own, and killed by the kernel
// if the launcher dies. Plus the words and exit codes for how a process ended.
//
// Why a process group per worker (as torchrun does, `start_new_session` + `killpg`): a worker is
// often a wrapper (a shell script, `numactl`, a profiler) whose real work runs in a grandchild.
// Signalling the group reaches the whole tree, so stopping a job leaves no orphan holding a GPU,
// a port or one of our pipes. The price is that a terminal's Ctrl-C reaches only the launcher,
// which therefore forwards SIGINT/SIGTERM/SIGHUP itself (launcher.h).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "runtime/comm/net.h"
#include "runtime/launch/worker_env.h"

namespace ps {

struct SpawnedProcess {
  pid_t pid = -1;  // also its process group id
  net::Fd out;     // read ends of the child's stdout and stderr: non-blocking, close-on-exec
  net::Fd err;
};

// A signal the child sets before exec: to SIG_IGN (ignore = true) or SIG_DFL. The launcher
// catches some signals; its workers must start with the dispositions the launcher itself was
// given (a `nohup` run keeps SIGHUP ignored), not with the launcher's handlers.
struct SignalDisposition {
  int sig = 0;
  bool ignore = false;
};

// Starts argv with exactly the environment `env`. argv[0] is a path, or a name looked up on
// env's PATH. Besides the dispositions asked for, the child starts with no blocked signals and
// with PR_SET_PDEATHSIG = SIGKILL: it dies when the thread that started it exits (the launcher's
// event loop runs on that thread until every worker is reaped). Throws InvalidInput when the
// program is not found or cannot be executed, Runtime for other failures; nothing is left running.
SpawnedProcess process_spawn(const std::vector<std::string>& argv, const EnvMap& env,
                             const std::vector<SignalDisposition>& signals);

// What exec would run for `name`: `name` itself when it holds a '/', else the first executable
// regular file named so in the ':'-separated `path_var`.
std::optional<std::string> process_find_executable(const std::string& name, const std::string& path_var);

// The path of the running program (/proc/self/exe), to start more of itself.
std::string process_self_exe();

// "exited with status 3", "was killed by signal 9 (SIGKILL)", "... (core dumped)".
std::string process_status_str(int wait_status);
// The exit code a shell reports for a wait status: the status, or 128 + the signal.
int process_exit_code(int wait_status);
// "SIGTERM"; "signal 42" for one without a common name.
std::string signal_name(int sig);

}  // namespace ps
