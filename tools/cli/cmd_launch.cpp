// pipeshard launch: one node's share of a multi-node job, as torchrun's agent does it (and as
// tools/launch.sh calls it): node R of N runs global ranks R*K .. R*K+K-1 of WORLD_SIZE = N*K,
// each one `<worker command>` with the torchrun environment (runtime/launch/launcher.h).
//   pipeshard launch --nnodes N --node-rank R --nproc-per-node K --master-addr HOST
//                    --master-port PORT [--grace-seconds S] -- <worker command...>
// A worker command starting with the word `pipeshard` runs this very binary, so the nodes need
// not have it on PATH.
#include <algorithm>
#include <cstdio>

#include "runtime/comm/job_token.h"
#include "runtime/core/error.h"
#include "runtime/launch/launcher.h"
#include "runtime/launch/process.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"
#include "tools/cli/launch_flags.h"

namespace ps::cli {

namespace {

int int_flag(const Args& a, const std::string& name, int dflt, int lo, int hi) { return a.int32(name, dflt, lo, hi); }

}  // namespace

int cmd_launch(const std::vector<std::string>& args) {
  const auto dashes = std::find(args.begin(), args.end(), "--");
  const std::vector<std::string> flags(args.begin(), dashes);
  std::vector<std::string> command(dashes == args.end() ? args.end() : dashes + 1, args.end());

  std::vector<OptionSpec> specs = {{"nnodes", true, "number of nodes (default 1)"},
                                   {"node-rank", true, "this node's index, 0..nnodes-1 (default 0)"},
                                   {"nproc-per-node", true, "workers on each node (default 1)"},
                                   {"master-addr", true, "rank 0's host (required with --nnodes > 1)"}};
  const std::vector<OptionSpec> common = launcher_flag_specs();
  specs.insert(specs.end(), common.begin(), common.end());
  specs.push_back({"help", false, "show this help"});
  const Args a("launch", flags, specs, "the worker command goes after --");
  if (a.flag("help")) {
    std::fputs(a.usage().c_str(), stdout);
    std::fputs("  -- COMMAND...               the worker command, e.g. -- pipeshard worker --plan plan.json ...\n", stdout);
    return 0;
  }
  if (command.empty())
    fail_input("launch: no worker command; give it after --, e.g. -- pipeshard worker --plan plan.json ...\n", a.usage());

  LaunchSpec spec;
  spec.name = "pipeshard launch";
  spec.nnodes = int_flag(a, "nnodes", 1, 1, 1 << 16);
  spec.node_rank = int_flag(a, "node-rank", 0, 0, spec.nnodes - 1);
  const int nproc = int_flag(a, "nproc-per-node", 1, 1, 1 << 12);
  spec.world = spec.nnodes * nproc;
  spec.ranks = launch_node_ranks(spec.node_rank, nproc);
  if (spec.nnodes > 1 && !a.has("master-addr"))
    fail_input("launch: --master-addr is required with --nnodes ", spec.nnodes, ": rank 0's host, as every node reaches it");
  spec.master_addr = a.str("master-addr", "127.0.0.1");
  launcher_flags_apply(a, spec);
  if (command[0] == "pipeshard") command[0] = process_self_exe();
  spec.worker_argv = std::move(command);
  spec.job_token = job_token_from_env().value_or("");
  return launcher_run(spec);
}

}  // namespace ps::cli
