// The CPU backend: every op of ops.h, on f32 host tensors (copy also converts f16/bf16), and its
// host memory table.
#include <fstream>
#include <string>
#include <thread>

#include "kernels/backend.h"
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
  OpTable& t = b.ops;
  t.embedding = cpu::embedding;
  t.add = cpu::add;
  t.gelu_tanh = cpu::gelu_tanh;
  t.relu = cpu::relu;
  t.gelu_erf = cpu::gelu_erf;
  t.silu = cpu::silu;
  t.tanh_act = cpu::tanh_act;
  t.gather_rows = cpu::gather_rows;
  t.copy_columns = cpu::copy_columns;
  t.silu_mul = cpu::silu_mul;
  t.layer_norm = cpu::layer_norm;
  t.rms_norm = cpu::rms_norm;
  t.linear = cpu::linear;
  t.rope = cpu::rope;
  t.kv_store = cpu::kv_store;
  t.attention = cpu::attention;
  t.softmax = cpu::softmax;
  t.log_softmax = cpu::log_softmax;
  t.sample = cpu::sample;
  t.copy = cpu::copy;
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
