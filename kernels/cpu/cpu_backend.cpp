// The CPU backend: every op of the op list, on f32 host tensors (copy also converts f16/bf16),
// its rule for each tensor, and its host memory table.
#include <fstream>
#include <string>
#include <thread>

#include "kernels/common/backend.h"
#include "kernels/cpu/cpu_check.h"
#include "kernels/cpu/cpu_ops.h"

namespace ps {

namespace {

// "AMD EPYC 7B13 (2 hardware threads)" from /proc/cpuinfo where there is one.
std::string cpu_device_name(int) {
  std::string model = "cpu";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos && colon + 2 <= line.size()) model = line.substr(colon + 2);
    break;
  }
  return str(model, " (", std::thread::hardware_concurrency(), " hardware threads)");
}

Backend make_cpu_backend() {
  Backend b;
  b.name = "cpu";
  b.kind = DeviceKind::CPU;
#define PS_CPU_OP(name, Signature) b.ops.name = cpu::name;
  PS_OP_LIST(PS_CPU_OP)
#undef PS_CPU_OP
  b.check_tensor = cpu::check_tensor;
  b.memory = cpu::cpu_memory_table();
  b.device_count = [] { return 1; };
  b.device_name = cpu_device_name;
  return b;
}

}  // namespace

const Backend& cpu_backend() {
  static const Backend backend = make_cpu_backend();
  return backend;
}

}  // namespace ps
