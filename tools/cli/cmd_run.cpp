// pipeshard run: run a plan's pipeline on this machine, one `pipeshard worker` process per rank,
// started and watched by the launcher (runtime/launch/launcher.h). It takes every flag of
// `pipeshard worker`, checks them and the plan once (one clear error instead of one per rank),
// and passes them on verbatim; --master-port, --grace-seconds and --trace are its own.
#include <cstdio>
#include <filesystem>

#include "partitioner/plan_validate.h"
#include "runtime/bench/trace.h"
#include "runtime/comm/job_token.h"
#include "runtime/core/error.h"
#include "runtime/launch/launcher.h"
#include "runtime/launch/process.h"
#include "runtime/pipeline/worker.h"
#include "runtime/io/requests.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"
#include "tools/cli/launch_flags.h"

namespace ps::cli {

namespace {

bool is_option(const std::string& arg, const OptionSpec& o) {
  return arg == "--" + o.name || arg.rfind("--" + o.name + "=", 0) == 0;
}

// `args` less the options in `drop`. Args has accepted them, so a valued option is either
// "--name=value" or "--name" followed by its value.
std::vector<std::string> without_options(const std::vector<std::string>& args, const std::vector<OptionSpec>& drop) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const OptionSpec* hit = nullptr;
    for (const auto& o : drop)
      if (is_option(args[i], o)) hit = &o;
    if (!hit) {
      out.push_back(args[i]);
    } else if (hit->takes_value && args[i].find('=') == std::string::npos) {
      ++i;
    }
  }
  return out;
}

// `run` starts one machine's ranks; a plan with stages on other nodes needs launch.sh there.
void check_one_node(const Plan& plan, const std::string& path) {
  for (int s = 0; s < plan.num_stages(); ++s) {
    if (plan.stages[static_cast<size_t>(s)].node == 0) continue;
    fail_input(path, ": stages[", s, "] runs on node ", plan.stages[static_cast<size_t>(s)].node,
               "; `pipeshard run` starts the ranks of one machine. Start every node with tools/launch.sh "
               "--nnodes N --node-rank R --nproc-per-node K --master-addr HOST --master-port PORT -- "
               "pipeshard worker --plan ... (README: multi-node)");
  }
}

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  std::vector<OptionSpec> specs = worker_flag_specs();
  std::vector<OptionSpec> own = launcher_flag_specs();
  own.push_back({"trace", true, "write one Chrome trace of every rank to this file (docs/bench/README.md)"});
  specs.insert(specs.end(), own.begin(), own.end());
  const Args a("run", args, specs);
  if (a.flag("help")) {
    std::fputs(a.usage().c_str(), stdout);
    std::fputs("Every option but --master-port, --grace-seconds and --trace is passed on to each `pipeshard worker`.\n",
               stdout);
    return 0;
  }
  worker_options_from_args(a);  // bad flags: exit 2 now, before any worker starts
  LaunchSpec spec;
  spec.name = "pipeshard run";
  spec.master_addr = "127.0.0.1";
  spec.master_port = 0;
  launcher_flags_apply(a, spec);

  const std::string plan_path = a.required("plan");
  const LoadedPlan lp = plan_load(plan_path);
  check_one_node(lp.plan, plan_path);
  // A bad request line is one clear exit 2 here, not a race of failing ranks later.
  requests_read(a.required("input"), lp.spec);
  spec.world = plan_world_size(lp.plan);
  for (int r = 0; r < spec.world; ++r) spec.ranks.push_back(r);
  spec.worker_argv = {process_self_exe(), "worker"};
  for (auto& arg : without_options(args, own)) spec.worker_argv.push_back(std::move(arg));
  if (spec.master_port == 0) spec.master_port = launch_free_port();
  spec.job_token = job_token_from_env().value_or("");
  // --trace merges the ranks' metrics files: from --metrics-dir, else a folder beside the trace
  // that goes away once the trace is written.
  std::string metrics = a.str("metrics-dir", "");
  const bool own_metrics = a.has("trace") && metrics.empty();
  if (own_metrics) {
    metrics = a.str("trace", "") + ".metrics";
    spec.worker_argv.insert(spec.worker_argv.end(), {"--metrics-dir", metrics});
  }
  const int rc = launcher_run(spec);
  if (rc == 0 && a.has("trace")) trace_write_from_metrics(metrics, a.str("trace", ""));
  if (own_metrics) std::filesystem::remove_all(metrics);
  return rc;
}

}  // namespace ps::cli
