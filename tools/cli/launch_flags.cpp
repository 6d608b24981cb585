#include "tools/cli/launch_flags.h"

#include <cmath>

#include "runtime/core/error.h"

namespace ps::cli {

std::vector<OptionSpec> launcher_flag_specs() {
  return {{"master-port", true, "port of rank 0's rendezvous store"},
          {"grace-seconds", true, "after SIGTERM, how long workers get before SIGKILL (default 5)"}};
}

void launcher_flags_apply(const Args& a, LaunchSpec& spec) {
  if (auto port = a.opt_integer("master-port", 1, 65535)) spec.master_port = static_cast<int>(*port);
  if (auto grace = a.opt_number("grace-seconds", 0, 86400)) {
    spec.grace = std::chrono::milliseconds(std::llround(*grace * 1000));
  }
}

}  // namespace ps::cli
