// pipeshard devices: the backends linked into this build and the devices each one sees.
#include <cstdio>

#include "kernels/common/backend.h"
#include "runtime/core/thread_pool.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"

namespace ps::cli {

int cmd_devices(const std::vector<std::string>& args) {
  const Args a("devices", args, {{"help", false, "show this help"}});
  if (a.flag("help")) {
    std::fputs(a.usage().c_str(), stdout);
    return 0;
  }
  for (const Backend* b : backend_list()) {
    const int n = b->device_count ? b->device_count() : 0;
    std::printf("%-5s %d device(s)\n", b->name.c_str(), n);
    for (int i = 0; i < n; ++i)
      std::printf("  %s  %s\n", Device{b->kind, i}.str().c_str(), b->device_name ? b->device_name(i).c_str() : "");
  }
  std::printf("cpu threads: %d (PIPESHARD_NUM_THREADS or --threads to change)\n", threads_resolve(0));
  return 0;
}

}  // namespace ps::cli
