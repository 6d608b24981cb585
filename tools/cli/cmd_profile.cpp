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
  if (a.has("micro-batch")) r.micro_batches = a.int_list("micro-batch", 1, std::numeric_limits<int>::max());
  r.prompt_len = a.integer("prompt-len", r.prompt_len, 1, std::numeric_limits<int>::max());
  r.max_new_tokens = a.integer("max-new-tokens", r.max_new_tokens, 1, kMaxNewTokens);
  r.threads = a.int32("threads", 1, 1, kThreadsMax);
  r.repeat = a.int32("repeat", 5, 1);
  r.device_model = a.str("device-model", r.device_model);
  const Profile p = profile_measure(r, print_progress);
  profile_write(p, out);
  std::printf("profile: wrote %s (%zu measurement(s), %zu layers)\n", out.c_str(), p.measurements.size(),
              p.measurements.empty() ? size_t{0} : p.measurements.front().layers.size());
  return 0;
}

}  // namespace ps::cli
