// pipeshard profile: measure each layer's time on this machine for `plan --profile`.
#include <cstdio>

#include "runtime/profiling/layer_profiler.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"

namespace ps::cli {

namespace {

void print_progress(const std::string& what) { std::fprintf(stderr, "profile: %s\n", what.c_str()); }

}  // namespace

int cmd_profile(const std::vector<std::string>& args) {
  const Args a("profile", args,
               {{"model", true, "model folder (config.json + safetensors)"},
                {"mode", true, "forward or generate (default forward)"},
                {"micro-batch", true, "sequences per micro-batch; a comma list measures several (default 1)"},
                {"prompt-len", true, "prompt tokens per sequence (default 128)"},
                {"max-new-tokens", true, "generate: decode steps to measure (default 16)"},
                {"threads", true, "CPU threads (default 1)"},
                {"repeat", true, "runs per measurement, the median is kept (default 5)"},
                {"device-model", true, "the cluster device's \"model\" this profile applies to (default cpu)"},
                {"out", true, "PROFILE.json to write"},
                {"help", false, "show this help"}});
  if (a.flag("help")) {
    std::fputs(a.usage().c_str(), stdout);
    return 0;
  }
  ProfileRequest r;
  r.model_dir = a.required("model");
  const std::string out = a.required("out");
  const auto mode = mode_parse(a.str("mode", "forward"));
  if (!mode) fail_input("--mode: '", a.str("mode", ""), "' (expected forward or generate)");
  r.mode = *mode;
  if (a.has("micro-batch")) r.micro_batches = a.int_list("micro-batch");
  for (int64_t mb : r.micro_batches)
    if (mb < 1) fail_input("--micro-batch: ", mb, " must be >= 1");
  r.prompt_len = a.integer("prompt-len", r.prompt_len);
  r.max_new_tokens = a.integer("max-new-tokens", r.max_new_tokens);
  r.threads = static_cast<int>(a.integer("threads", 1));
  r.repeat = static_cast<int>(a.integer("repeat", 5));
  r.device_model = a.str("device-model", r.device_model);
  if (r.prompt_len < 1) fail_input("--prompt-len: must be >= 1");
  if (r.max_new_tokens < 1) fail_input("--max-new-tokens: must be >= 1");
  if (r.threads < 1) fail_input("--threads: must be >= 1");
  if (r.repeat < 1) fail_input("--repeat: must be >= 1");
  const Profile p = profile_measure(r, print_progress);
  profile_write(p, out);
  std::printf("profile: wrote %s (%zu measurement(s), %zu layers)\n", out.c_str(), p.measurements.size(),
              p.measurements.empty() ? size_t{0} : p.measurements.front().layers.size());
  return 0;
}

}  // namespace ps::cli
