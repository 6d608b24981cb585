// pipeshard worker: one rank of a pipeline run. Started by `pipeshard run`, tools/launch.sh,
// torchrun (--no-python), srun or mpirun; it learns its rank from their environment.
#include <cstdio>

#include "runtime/pipeline/worker.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"
#include "tools/cli/model_io.h"

namespace ps::cli {

std::vector<OptionSpec> worker_flag_specs() {
  return with_generate_flags({{"plan", true, "the plan (JSON sharding config)"},
                              {"input", true, "requests, JSON Lines"},
                              {"output", true, "results, JSON Lines (written by rank 0)"},
                              {"mode", true, "generate or forward (default: the plan's workload)"},
                              {"top-logprobs", true, "forward mode: log-probabilities per request (default 5)"},
                              {"resume", false, "skip the requests already in <output>.journal"},
                              {"threads", true, "CPU threads per stage (default: the plan's, else cores / local ranks)"},
                              {"bind-address", true, "interface for the store and transport (default: see README)"},
                              {"timeout-seconds", true, "deadline of every blocking wait (default 60)"},
                              {"metrics-dir", true, "write rank<N>.json with every instruction's timing there"},
                              {"help", false, "show this help"}});
}

WorkerOptions worker_options_from_args(const Args& a) {
  WorkerOptions o;
  o.plan_path = a.required("plan");
  o.input = a.required("input");
  o.output = a.required("output");
  if (a.has("mode")) {
    const std::string m = a.str("mode", "");
    o.mode = mode_parse(m);
    if (!o.mode) fail_input("--mode: '", m, "' (expected generate or forward)");
  }
  o.defaults = generate_defaults_from_flags(a, 0);
  o.max_new_tokens_given = a.has("max-new-tokens");
  o.top_logprobs = a.int32("top-logprobs", 5, 0);
  o.resume = a.flag("resume");
  o.threads = a.int32("threads", 0, 1, kThreadsMax);  // absent: 0, the plan's or cores / local ranks
  o.bind_address = a.str("bind-address", "");
  o.metrics_dir = a.str("metrics-dir", "");
  const double t = a.number("timeout-seconds", 60, 0, kTimeoutSecondsMax, Args::Lower::Open);
  o.timeout = std::chrono::milliseconds(static_cast<int64_t>(t * 1000));
  return o;
}

int cmd_worker(const std::vector<std::string>& args) {
  const Args a("worker", args, worker_flag_specs());
  if (a.flag("help")) {
    std::fputs(a.usage().c_str(), stdout);
    return 0;
  }
  return worker_run(worker_options_from_args(a), worker_env_resolve(env_current()));
}

}  // namespace ps::cli
