#include "tools/cli/model_io.h"

#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "runtime/core/files.h"

namespace ps::cli {

template <class R>
void results_write(const std::string& path, const std::vector<R>& results) {
  std::string text;
  for (const auto& r : results) text += result_line(r) + "\n";
  if (path.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  file_write_atomic(path, text);
}

template void results_write(const std::string&, const std::vector<GenerationResult>&);
template void results_write(const std::string&, const std::vector<ScoreResult>&);
template void results_write(const std::string&, const std::vector<MlpResult>&);

Request prompt_request(const std::string& ids_csv, const ModelSpec& spec) {
  Json ids = Json::array();
  size_t start = 0;
  while (start <= ids_csv.size()) {
    const size_t comma = ids_csv.find(',', start);
    const std::string item = ids_csv.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size()) fail_input("--prompt-ids: '", item, "' is not a token id");
    ids.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  const Json line = {{"id", "prompt"}, {"prompt_ids", ids}};
  return request_parse(line.dump(), spec, RequestOrigin{"--prompt-ids", 1});
}

std::vector<OptionSpec> with_generate_flags(std::vector<OptionSpec> own) {
  const std::vector<OptionSpec> gen = {
      {"max-new-tokens", true, "tokens to generate per request (default 16, or the plan's)"},
      {"stop-ids", true, "comma-separated ids that end a sequence"},
      {"temperature", true, "sampling temperature (default: greedy)"},
      {"top-k", true, "keep the k most likely tokens"},
      {"top-p", true, "keep the smallest set with this much probability"},
      {"seed", true, "sampling seed (default 0)"}};
  own.insert(own.end() - 1, gen.begin(), gen.end());  // before --help, which stays last
  return own;
}

GenerateDefaults generate_defaults_from_flags(const Args& a, int64_t vocab_size) {
  GenerateDefaults d;
  d.max_new_tokens = a.integer("max-new-tokens", d.max_new_tokens, 0, kMaxNewTokens);
  for (int64_t t : a.int_list("stop-ids", 0, std::numeric_limits<int32_t>::max())) {
    if (t < 0 || (vocab_size > 0 && t >= vocab_size))
      fail_input("--stop-ids: token ", t, " is outside the vocabulary (size ", vocab_size, ")");
    d.stop_ids.push_back(static_cast<int32_t>(t));
  }
  if (auto t = a.opt_number("temperature", 0, std::numeric_limits<float>::max())) {
    d.temperature = static_cast<float>(*t);
  }
  if (auto k = a.opt_integer("top-k", 0, std::numeric_limits<int32_t>::max())) {
    d.top_k = static_cast<int32_t>(vocab_size > 0 ? std::min<int64_t>(*k, vocab_size) : *k);
  }
  if (auto p = a.opt_number("top-p", 0, 1, Args::Lower::Open)) {
    d.top_p = static_cast<float>(*p);
  }
  d.seed = a.uint64("seed", 0);
  return d;
}

std::vector<OptionSpec> with_device_flags(std::vector<OptionSpec> own) {
  const std::vector<OptionSpec> dev = {{"device", true, "cpu (default) or cuda:N"},
                                       {"dtype", true, "GPU compute dtype: f32 (default), f16 or bf16"}};
  own.insert(own.end() - 1, dev.begin(), dev.end());
  return own;
}

void device_flags_apply(const Args& a, StageOptions& so) {
  so.device = device_parse(a.str("device", "cpu"), "--device");
  const std::string dt = a.str("dtype", "f32");
  const auto d = dtype_parse(dt);
  if (!d) fail_input("--dtype: '", dt, "' is not f32, f16 or bf16");
  if (so.device.is_cpu() && *d != DType::F32) fail_input("--dtype ", dt, ": the CPU computes in f32; use it with --device cuda:N");
  so.dtype = *d;
}

}  // namespace ps::cli
