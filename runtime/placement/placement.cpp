#include "runtime/placement/placement.h"

#include <algorithm>
#include <utility>

#include "kernels/cpu/blas_threads.h"
#include "partitioner/cost_model.h"
#include "partitioner/saturate.h"
#include "partitioner/units.h"

namespace ps {

std::unique_ptr<ThreadPool> cpu_threads_setup(int requested) {
  const int n = threads_resolve(requested);
  blas_set_threads(n);
  return std::make_unique<ThreadPool>(n);
}

int64_t stage_memory_estimate(const ModelSpec& spec, const Workload& w, int first, int last, DType dtype, DType act,
                              int64_t max_ctx) {
  // The cost model sizes the KV cache for prompt_len + max_new_tokens positions: make that the
  // context the job's requests actually need.
  Workload fit = w;
  if (w.mode == Mode::Generate) {
    fit.max_new_tokens = std::clamp<int64_t>(w.max_new_tokens, 0, std::max<int64_t>(0, max_ctx - 1));
    fit.prompt_len = std::max<int64_t>(1, max_ctx - fit.max_new_tokens);
  } else {
    fit.prompt_len = std::max<int64_t>(1, max_ctx);
  }
  const CostModel m = cost_model_build(spec, fit, dtype, act);
  int64_t held = 0, peak = 0;
  for (int l = first; l <= last; ++l) {
    const LayerCost& c = m.layers[static_cast<size_t>(l)];
    held = add_sat(held, add_sat(c.weight_bytes, c.kv_bytes));
    peak = std::max(peak, c.peak_bytes);
  }
  return add_sat(held, peak);
}

DType stage_compute_dtype(const Device& device, DType plan_dtype) {
  return device.is_cpu() ? DType::F32 : plan_dtype;
}

StageDevice::StageDevice(const Device& device, std::string where)
    : backend_(&with_context(where, [&]() -> const Backend& { return backend_get(device); })),
      device_(device),
      where_(std::move(where)) {
  const MemoryTable& m = backend_->memory;
  m.set_device(device.index);
  size_t free_bytes = 0, total_bytes = 0;
  m.mem_info(device.index, &free_bytes, &total_bytes);
  free_ = free_bytes;
  total_ = total_bytes;
  stream_ = m.stream_create(device.index);
}

void StageDevice::check_memory(int64_t need_bytes) const {
  const auto need = static_cast<uint64_t>(std::max<int64_t>(0, need_bytes));
  // Only GPUs are checked: a CPU stage maps its weights from the page cache, which the kernel
  // reclaims, so "free" memory says little there.
  if (!device_.is_cpu() && need > free_)
    fail_input(where_, ": '", device_.str(), "' has ", format_gib(static_cast<double>(free_)), " free of ",
               format_gib(static_cast<double>(total_)), "; the stage needs about ",
               format_gib(static_cast<double>(need)), " (weights, KV cache and activations). Use more stages, a",
               " smaller batch or dtype, or `pipeshard plan` with this device's memory in the cluster file");
}

StageDevice::~StageDevice() {
  if (stream_) backend_->memory.stream_destroy(stream_);
}

}  // namespace ps
