#include "kernels/common/backend.h"

namespace ps {

std::vector<const Backend*> backend_list() {
  std::vector<const Backend*> list{&cpu_backend()};
#ifdef PIPESHARD_HAVE_CUDA  // the only place that knows whether CUDA was built (see CMakeLists)
  list.push_back(&cuda_backend());
#endif
  return list;
}

const Backend& backend_get(const Device& device) {
  for (const Backend* b : backend_list()) {
    if (b->kind != device.kind) continue;
    if (b->device_count && device.index >= b->device_count())
      fail_input(device.str(), ": no such device (", b->name, " has ", b->device_count(), ")");
    return *b;
  }
  fail_input(device.str(), ": this build has no ", device.kind == DeviceKind::CUDA ? "CUDA" : "such",
             " backend (configure with -DPIPESHARD_CUDA=ON on a machine with the CUDA toolkit)");
}

}  // namespace ps
