// The whole model in one process on the CPU: the spec, the mapped checkpoint, one stage holding
// every layer, and the op context it runs with. What `generate`, `forward` and the benchmarks use.
#pragma once

#include <memory>
#include <string>

#include "kernels/common/backend.h"
#include "runtime/core/thread_pool.h"
#include "runtime/models/stage_model.h"
#include "runtime/placement/placement.h"

namespace ps {

struct LocalModel {
  ModelSpec spec;
  Checkpoint ckpt;
  std::unique_ptr<StageDevice> device;  // where it runs (options.device), made current
  std::unique_ptr<ThreadPool> pool;     // CPU only
  Workspace workspace;
  std::unique_ptr<StageModel> stage;
  double load_seconds = 0;

  OpContext ctx() { return OpContext{&device->backend(), device->stream(), pool.get(), &workspace}; }
};

// Loads every layer of the model in `dir` with a KV cache of `options.slots` x `options.max_ctx`,
// on options.device in options.dtype (`options.stream` is set here; the memory check is the
// caller's, as `--device` flags know their workload).
std::unique_ptr<LocalModel> local_model_load(const std::string& dir, int threads, const StageOptions& options);
// As above for a model spec already read (the caller sized the cache from the requests).
std::unique_ptr<LocalModel> local_model_load(ModelSpec spec, const std::string& dir, int threads,
                                             const StageOptions& options);

}  // namespace ps
