// pipeshard forward: score a batch of requests (next token and top log-probabilities at the last
// position; `mlp`: input -> output).
#include <cstdio>

#include "runtime/core/files.h"
#include "runtime/drivers/forward.h"
#include "runtime/drivers/local_model.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"
#include "tools/cli/model_io.h"

namespace ps::cli {

int cmd_forward(const std::vector<std::string>& args) {
  const Args a("forward", args,
               with_device_flags({{"model", true, "model folder (config.json + safetensors)"},
                {"input", true, "requests, JSON Lines"},
                {"output", true, "results, JSON Lines (default: stdout)"},
                {"top-logprobs", true, "log-probabilities to report per request (default 5)"},
                {"logits-out", true, "also write every position's logits (raw little-endian f32)"},
                {"batch", true, "requests per forward pass (default 8)"},
                {"threads", true, "CPU threads (default: PIPESHARD_NUM_THREADS or all cores)"},
                {"help", false, "show this help"}}));
  if (a.flag("help")) {
    std::fputs(a.usage().c_str(), stdout);
    return 0;
  }
  const std::string dir = a.required("model");
  ModelSpec spec = model_spec_load(dir);
  const std::vector<Request> reqs = requests_read(a.required("input"), spec);
  const int batch = a.int32("batch", 8, 1);
  const int top = a.int32("top-logprobs", 5, 0);
  if (spec.family == Family::Mlp && a.has("logits-out")) fail_input("--logits-out: mlp models have no logits");

  StageOptions so;
  device_flags_apply(a, so);
  so.slots = std::min<int>(batch, static_cast<int>(reqs.size()));
  so.max_ctx = forward_context_needed(reqs);
  const bool mlp = spec.family == Family::Mlp;
  auto model = local_model_load(std::move(spec), dir, a.int32("threads", 0, 1, kThreadsMax), so);
  if (mlp) {
    results_write(a.str("output", ""), mlp_run(*model->stage, model->ctx(), reqs, batch));
    return 0;
  }
  std::vector<float> logits;
  ForwardOptions fo;
  fo.batch = batch;
  fo.top_logprobs = std::min<int>(top, static_cast<int>(model->spec.vocab_size));
  if (a.has("logits-out")) fo.all_logits = &logits;
  const auto results = forward_run(*model->stage, model->ctx(), reqs, fo);
  // Both outputs are complete before either is published.
  if (a.has("logits-out"))
    file_write_atomic(a.str("logits-out", ""),
                      std::string_view(reinterpret_cast<const char*>(logits.data()), logits.size() * sizeof(float)));
  results_write(a.str("output", ""), results);
  return 0;
}

}  // namespace ps::cli
