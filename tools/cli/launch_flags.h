// The flags `pipeshard run` and `pipeshard launch` share: they set the launcher, not the workers.
#pragma once

#include <string>
#include <vector>

#include "runtime/launch/launcher.h"
#include "tools/cli/args.h"

namespace ps::cli {

std::vector<OptionSpec> launcher_flag_specs();  // --master-port, --grace-seconds
// Sets the spec's fields for the flags that were given; InvalidInput for a bad value.
void launcher_flags_apply(const Args& a, LaunchSpec& spec);

}  // namespace ps::cli
