#include "tools/cli/commands.h"

namespace ps::cli {

const std::vector<Command>& command_table() {
  static const std::vector<Command> table = {
      {"make-model", cmd_make_model, "write a Hugging Face model folder with seeded random weights"},
      {"generate", cmd_generate, "generate tokens in one process on the CPU"},
      {"forward", cmd_forward, "score a batch: next token and top log-probabilities"},
      {"plan", cmd_plan, "split a model's layers into pipeline stages (write a plan)"},
      {"profile", cmd_profile, "measure each layer's time on this machine for the planner"},
      {"devices", cmd_devices, "list the backends and devices of this build"},
      {"run", cmd_run, "run a plan's pipeline on this machine: one worker process per rank"},
      {"launch", cmd_launch, "start one node's workers of a multi-node job (tools/launch.sh)"},
      {"bench", cmd_bench, "benchmark the real pipeline over a sweep: measured against predicted"},
      {"worker", cmd_worker, "run one rank of a pipeline (started by run, launch.sh, torchrun, srun, mpirun)"},
  };
  return table;
}

}  // namespace ps::cli
