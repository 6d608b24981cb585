// The launcher: starts this node's workers of a job with torchrun's environment, prints their
// output line by line prefixed with the rank, and stops the whole node when one worker fails or
// when the launcher is asked to stop. Used by `pipeshard run` (every rank of a one-node plan) and
// `pipeshard launch` (one node of a multi-node job; tools/launch.sh).
//
// Each worker gets the launcher's environment, then `extra_env`, then (overriding both)
//   RANK, LOCAL_RANK (its index in `ranks`), WORLD_SIZE, LOCAL_WORLD_SIZE (= ranks.size()),
//   GROUP_RANK (= node_rank), GROUP_WORLD_SIZE (= nnodes), MASTER_ADDR, MASTER_PORT,
//   PIPESHARD_JOB_TOKEN, PIPESHARD_LAUNCHER=pipeshard
// and loses TORCHELASTIC_USE_AGENT_STORE (this launcher is the agent; no other store holds
// MASTER_PORT). Rank 0 hosts the rendezvous store on MASTER_ADDR:MASTER_PORT.
//
// Job token: `job_token`, else a fresh random one for a one-node job. A job over several nodes
// needs the same secret on every node, which no node can make up alone, so there an empty token
// is InvalidInput (set PIPESHARD_JOB_TOKEN on every node).
//
// Stopping. When a worker exits non-zero or is killed by a signal, the launcher sends SIGTERM to
// the others, SIGKILL to those still running `grace` later, and waits for all. When the launcher
// gets SIGINT, SIGTERM or SIGHUP it forwards that signal to every worker, then does the same; a
// second one sends SIGKILL at once. Signals go to each worker's process group (process.h), and a
// worker's group is killed when the worker exits, so nothing it started outlives it. Workers are
// also killed by the kernel if the launcher dies (PR_SET_PDEATHSIG).
//
// launcher_run returns:
//   0                     every worker exited with status 0;
//   the first failure's   exit status (2 stays 2: bad input), or 128 + its signal;
//   128 + signal          when the launcher was stopped by a signal before any worker failed,
// and before returning non-zero prints one line on err_fd naming the cause:
//   "pipeshard run: rank 1 was killed by signal 9 (SIGKILL); stopped the other 2 ranks".
// The first failure is the first worker whose end the kernel reported (SIGCHLD's sender), not
// the lowest rank among those found dead together: a crash, not the peers that lost it.
// Throws InvalidInput for a bad spec or a worker program that cannot be run (after stopping the
// workers already started). One launcher_run per process at a time (it owns SIGINT, SIGTERM,
// SIGHUP, SIGCHLD and SIGPIPE while it runs and restores them after); call it from a thread that
// outlives the job (PR_SET_PDEATHSIG follows the thread that started the workers).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "runtime/launch/worker_env.h"

namespace ps {

struct LaunchSpec {
  std::vector<std::string> worker_argv;  // argv[0]: a path, or a name looked up on PATH
  int nnodes = 1;
  int node_rank = 0;
  std::vector<int> ranks;                // global ranks this node runs; LOCAL_RANK = index here
  int world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string job_token;                 // empty: make one (one node only)
  std::chrono::milliseconds grace{5000};
  EnvMap extra_env;
  std::string name = "pipeshard";        // starts the launcher's own lines: "pipeshard run: ..."
  int out_fd = 1;                        // where workers' stdout lines go, prefixed
  int err_fd = 2;                        // where their stderr lines and the launcher's own go
};

int launcher_run(const LaunchSpec& spec);

// torchrun's rule: node R of a job with K processes per node runs global ranks R*K .. R*K+K-1.
std::vector<int> launch_node_ranks(int node_rank, int nproc_per_node);

// The environment of the worker at `local_index` in spec.ranks (see the top of this file).
EnvMap launch_worker_env(const LaunchSpec& spec, size_t local_index, const std::string& job_token,
                         const EnvMap& base);

// A TCP port free on 127.0.0.1 right now (the kernel's pick for port 0), for a one-node job's
// store. Another process may take it before rank 0 binds; rank 0 then fails saying so.
int launch_free_port();

}  // namespace ps
