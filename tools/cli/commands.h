// The `pipeshard` subcommands. Each takes the arguments after its name and returns the exit
// status; a ps::Error escaping it is printed by main() and mapped to its exit status (2 = bad input).
#pragma once

#include <string>
#include <vector>

#include "tools/cli/args.h"

namespace ps {
struct WorkerOptions;
}

namespace ps::cli {

using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
  const char* name;
  CommandFn fn;
  const char* summary;
};

int cmd_make_model(const std::vector<std::string>& args);
int cmd_generate(const std::vector<std::string>& args);
int cmd_forward(const std::vector<std::string>& args);
int cmd_plan(const std::vector<std::string>& args);
int cmd_profile(const std::vector<std::string>& args);
int cmd_devices(const std::vector<std::string>& args);
int cmd_worker(const std::vector<std::string>& args);
int cmd_run(const std::vector<std::string>& args);
int cmd_launch(const std::vector<std::string>& args);
int cmd_bench(const std::vector<std::string>& args);

// `pipeshard worker`'s flags and their reading (cmd_worker.cpp). `pipeshard run` takes the same
// flags, checks them once before starting anything, and passes them on to every worker.
std::vector<OptionSpec> worker_flag_specs();
WorkerOptions worker_options_from_args(const Args& a);

// The table main() dispatches on (commands.cpp).
const std::vector<Command>& command_table();

}  // namespace ps::cli
