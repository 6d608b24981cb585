// Placing one stage on its device before anything is loaded (issue 5, part 3): the plan's device
// becomes the thread's current device, the stage gets a stream of its own (GPU), and the device's
// free memory is checked against the stage's estimate -- its weights, its KV cache and its
// largest transient, by the cost model the planner uses -- so a plan that cannot fit fails at
// once with a message naming the stage, the device and both sizes, not half-way through loading.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/common/backend.h"
#include "runtime/core/thread_pool.h"
#include "runtime/spec/model_spec.h"
#include "partitioner/workload.h"

namespace ps {

// Bytes stage layers [first, last] hold on their device for `w`, with weights in `dtype` and
// activations and KV cache in `act`; `max_ctx` positions per KV-cache slot (what the job's
// requests need). Saturates instead of overflowing.
int64_t stage_memory_estimate(const ModelSpec& spec, const Workload& w, int first, int last, DType dtype, DType act,
                              int64_t max_ctx);

// The dtype a stage computes in: its plan dtype on a GPU; f32 on the CPU (the CPU backend is f32).
DType stage_compute_dtype(const Device& device, DType plan_dtype);

// A CPU stage's compute threads: our pool and OpenBLAS's, both `threads_resolve(requested)` (the
// flag, PIPESHARD_NUM_THREADS, or the cores).
std::unique_ptr<ThreadPool> cpu_threads_setup(int requested);

// A stage's device, made current on this thread, with its stream (null on the CPU).
class StageDevice {
 public:
  // InvalidInput naming `where` (e.g. "plan.json: stages[1].device") when the build lacks the
  // backend or the device does not exist.
  StageDevice(const Device& device, std::string where);
  ~StageDevice();
  StageDevice(const StageDevice&) = delete;
  StageDevice& operator=(const StageDevice&) = delete;

  const Backend& backend() const { return *backend_; }
  const Device& device() const { return device_; }
  void* stream() const { return stream_; }
  const std::string& where() const { return where_; }
  uint64_t free_bytes_at_start() const { return free_; }
  // Before loading: InvalidInput naming `where`, the device and both sizes when `need_bytes`
  // is more than the device's free memory.
  void check_memory(int64_t need_bytes) const;

 private:
  const Backend* backend_;
  Device device_;
  std::string where_;
  uint64_t total_ = 0;
  void* stream_ = nullptr;
  uint64_t free_ = 0;
};

}  // namespace ps
