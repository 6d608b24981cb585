// pipeshard make-model: write a Hugging Face model folder with seeded random weights.
#include <cctype>
#include <cstdio>
#include <limits>

#include "runtime/core/error.h"
#include "runtime/models/make_model.h"
#include "tools/cli/args.h"
#include "tools/cli/commands.h"

namespace ps::cli {

namespace {

constexpr int64_t kDimMax = std::numeric_limits<int32_t>::max();  // layer, width and vocab sizes

Family family_flag(const std::string& s) {
  if (s == "llama") return Family::Llama;
  if (s == "gpt2") return Family::Gpt2;
  if (s == "mlp") return Family::Mlp;
  fail_input("--family: '", s, "' is not a model family (llama, gpt2, mlp)");
}

// "1000000", "500MB", "2GB" (powers of 1000, as transformers' max_shard_size) or "64MiB".
uint64_t size_flag(const std::string& s) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (v > (UINT64_MAX - 9) / 10) fail_input("--shard-size: '", s, "' is too large");
    v = v * 10 + static_cast<uint64_t>(s[i++] - '0');
  }
  std::string unit = s.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::pair<const char*, uint64_t> units[] = {{"", 1},          {"B", 1},           {"KB", 1000},
                                                    {"MB", 1000000},  {"GB", 1000000000}, {"KIB", 1ull << 10},
                                                    {"MIB", 1ull << 20}, {"GIB", 1ull << 30}};
  for (const auto& [name, mult] : units)
    if (i > 0 && unit == name) {
      if (v > UINT64_MAX / mult) fail_input("--shard-size: '", s, "' is too large");
      if (v == 0) fail_input("--shard-size: must be positive");
      return v * mult;
    }
  fail_input("--shard-size: '", s, "' is not a size (bytes, or with KB, MB, GB, KiB, MiB, GiB)");
}

}  // namespace

int cmd_make_model(const std::vector<std::string>& args) {
  const Args a("make-model", args,
               {{"family", true, "llama | gpt2 | mlp"},
                {"preset", true, "tiny | small (default tiny; llama small is ~100M parameters)"},
                {"layers", true, "transformer blocks"},
                {"hidden", true, "hidden size"},
                {"heads", true, "attention heads"},
                {"kv-heads", true, "key/value heads (llama; grouped-query attention)"},
                {"intermediate", true, "MLP inner size"},
                {"vocab", true, "vocabulary size"},
                {"max-positions", true, "context length"},
                {"head-dim", true, "explicit head_dim (llama)"},
                {"tie-embeddings", false, "tie the LM head to the embedding (llama)"},
                {"qkv-bias", false, "q/k/v bias (llama: attention_bias, which also biases o_proj)"},
                {"model-type", true, "llama | mistral | qwen2 (llama family; qwen2 has q/k/v bias)"},
                {"rope-theta", true, "RoPE base (default 10000)"},
                {"rope-scaling", true, "linear | llama3"},
                {"rope-factor", true, "rope scaling factor (default: linear 2, llama3 8)"},
                {"dtype", true, "f32 | f16 | bf16 (default f32)"},
                {"seed", true, "weights' seed (default 0)"},
                {"shard-size", true, "max bytes per safetensors shard (e.g. 5000000, 100MB)"},
                {"out", true, "output folder (must not exist or be empty)"},
                {"force", false, "replace a non-empty output folder"},
                {"help", false, "show this help"}});
  if (a.flag("help")) {
    std::fputs(a.usage().c_str(), stdout);
    return 0;
  }
  MakeModelOptions o;
  o.family = family_flag(a.required("family"));
  o.preset = a.str("preset", "tiny");
  o.layers = a.opt_integer("layers", 1, kDimMax);
  o.hidden = a.opt_integer("hidden", 1, kDimMax);
  o.heads = a.opt_integer("heads", 1, kDimMax);
  o.kv_heads = a.opt_integer("kv-heads", 1, kDimMax);
  o.intermediate = a.opt_integer("intermediate", 1, kDimMax);
  o.vocab = a.opt_integer("vocab", 1, kDimMax);
  o.max_positions = a.opt_integer("max-positions", 1, kDimMax);
  o.head_dim = a.opt_integer("head-dim", 1, kDimMax);
  o.tie_embeddings = a.flag("tie-embeddings");
  o.qkv_bias = a.flag("qkv-bias");
  o.model_type = a.str("model-type", "");
  o.rope_theta = a.opt_number("rope-theta", 0, std::numeric_limits<double>::max(), Args::Lower::Open);
  o.rope_scaling = a.str("rope-scaling", "");
  o.rope_factor = a.opt_number("rope-factor", 0, std::numeric_limits<double>::max(), Args::Lower::Open);
  const std::string dtype = a.str("dtype", "f32");
  const auto d = dtype_parse(dtype);
  if (!d) fail_input("--dtype: '", dtype, "' is not a dtype (f32, f16, bf16)");
  o.dtype = *d;
  o.seed = a.uint64("seed", 0);
  if (a.has("shard-size")) o.shard_size = size_flag(a.str("shard-size", ""));
  o.force = a.flag("force");
  const std::string out = a.required("out");

  const ModelSpec spec = make_model_spec(o);
  const MakeModelReport r = make_model_write(spec, o, out);
  const size_t weight_files = r.files.size() - (r.files.size() > 2 ? 2 : 1);  // minus config and index
  std::printf("make-model: wrote %s: family=%s model_type=%s preset=%s layers=%d params=%lld bytes=%llu dtype=%s"
              " files=%zu\n",
              out.c_str(), family_name(spec.family), spec.model_type.c_str(), o.preset.c_str(), spec.num_layers(),
              static_cast<long long>(r.params), static_cast<unsigned long long>(r.bytes), dtype_name(spec.dtype),
              weight_files);
  return 0;
}

}  // namespace ps::cli
