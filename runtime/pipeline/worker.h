// One rank of a pipeline run (`pipeshard worker`): join the job through rank 0's store, connect
// the transport, load only this stage's layers, run the stage's schedules, and -- on rank 0 --
// collect every replica's results into the journal and the final output.
#pragma once

#include <chrono>
#include <string>

#include "partitioner/workload.h"
#include "runtime/engine/sequence.h"
#include "runtime/launch/worker_env.h"

namespace ps {

struct WorkerOptions {
  std::string plan_path;
  std::string input, output;
  std::optional<Mode> mode;       // default: the plan's workload
  GenerateDefaults defaults;          // generation flags (max_new_tokens default: the plan's)
  bool max_new_tokens_given = false;
  int top_logprobs = 5;
  bool resume = false;
  int threads = 0;                    // 0: the plan's stage threads, else all cores / stages
  std::string bind_address;           // empty: loopback for one node, else the one reaching MASTER_ADDR
  std::chrono::milliseconds timeout{60000};
  std::string metrics_dir;            // when set, rank<N>.json with every instruction's timing
};

// Returns the process exit status (0); errors are thrown as ps::Error with the rank in context.
int worker_run(const WorkerOptions& options, const WorkerEnv& env);

}  // namespace ps
