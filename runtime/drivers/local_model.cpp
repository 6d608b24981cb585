#include "runtime/drivers/local_model.h"

#include <chrono>

namespace ps {

std::unique_ptr<LocalModel> local_model_load(ModelSpec spec, const std::string& dir, int threads,
                                             const StageOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  auto m = std::make_unique<LocalModel>(
      LocalModel{std::move(spec), Checkpoint::open(dir), nullptr, nullptr, {}, nullptr, 0});
  m->device = std::make_unique<StageDevice>(options.device, "--device");
  if (options.device.is_cpu()) m->pool = cpu_threads_setup(threads);
  StageOptions so = options;
  so.stream = m->device->stream();
  m->stage = stage_model_load(m->spec, m->ckpt, 0, m->spec.num_layers() - 1, so);
  m->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

std::unique_ptr<LocalModel> local_model_load(const std::string& dir, int threads, const StageOptions& options) {
  return local_model_load(model_spec_load(dir), dir, threads, options);
}

}  // namespace ps
