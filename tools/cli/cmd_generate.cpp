// pipeshard generate: run a model in one process (CPU, or one GPU with --device) and generate tokens.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/drivers/generate.h"
#include "runtime/drivers/local_model.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"
#include "tools/cli/model_io.h"

namespace ps::cli {

int cmd_generate(const std::vector<std::string>& args) {
  const Args a("generate", args,
               with_device_flags(with_generate_flags({{"model", true, "model folder (config.json + safetensors)"},
                {"prompt-ids", true, "one prompt as comma-separated token ids"},
                {"input", true, "requests, JSON Lines"},
                {"output", true, "results, JSON Lines (default: stdout)"},
                {"threads", true, "CPU threads (default: PIPESHARD_NUM_THREADS or all cores)"},
                {"slots", true, "sequences in flight at once (default 8)"},
                {"json", false, "with --prompt-ids: print one JSON object with output_ids and timings"},
                {"help", false, "show this help"}})));
  if (a.flag("help")) {
    std::fputs(a.usage().c_str(), stdout);
    return 0;
  }
  const std::string dir = a.required("model");
  if (a.has("prompt-ids") == a.has("input")) fail_input("generate: give exactly one of --prompt-ids or --input");
  ModelSpec spec = model_spec_load(dir);
  if (spec.family == Family::Mlp) fail_input(dir, ": generate needs a language model; use `pipeshard forward` for mlp");
  const GenerateDefaults defaults = generate_defaults_from_flags(a, spec.vocab_size);
  const std::vector<Request> reqs =
      a.has("input") ? requests_read(a.str("input", ""), spec) : std::vector<Request>{prompt_request(a.str("prompt-ids", ""), spec)};
  const int slots = a.int32("slots", 8, 1);

  StageOptions so;
  device_flags_apply(a, so);
  so.slots = std::min<int>(slots, static_cast<int>(reqs.size()));
  so.max_ctx = generate_context_needed(reqs, defaults, spec.max_positions);
  auto model = local_model_load(std::move(spec), dir, a.int32("threads", 0, 1, kThreadsMax), so);
  GenerateStats stats;
  const auto results = generate_run(*model->stage, model->ctx(), reqs, defaults, so.slots, &stats);

  if (a.has("prompt-ids")) {
    const auto& r = results.front();
    if (a.flag("json")) {
      const double decode_tps = stats.decode_seconds > 0 ? stats.decode_tokens / stats.decode_seconds : 0.0;
      const Json j = {{"output_ids", r.output_ids},
                      {"finish_reason", r.finish_reason},
                      {"timings",
                       {{"load_s", model->load_seconds},
                        {"prefill_s", stats.prefill_seconds},
                        {"decode_s", stats.decode_seconds},
                        {"prompt_tokens", stats.prompt_tokens},
                        {"generated_tokens", stats.generated_tokens},
                        {"prefill_tokens_per_s", stats.prefill_seconds > 0 ? stats.prompt_tokens / stats.prefill_seconds : 0.0},
                        {"decode_tokens_per_s", decode_tps}}}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      for (size_t i = 0; i < r.output_ids.size(); ++i) std::printf("%s%d", i ? "," : "", r.output_ids[i]);
      std::printf("\n");
      std::fprintf(stderr, "finish_reason=%s prefill %.3f s, decode %.3f s (%lld tokens)\n", r.finish_reason.c_str(),
                   stats.prefill_seconds, stats.decode_seconds, static_cast<long long>(stats.generated_tokens));
    }
    return 0;
  }
  results_write(a.str("output", ""), results);
  return 0;
}

}  // namespace ps::cli
