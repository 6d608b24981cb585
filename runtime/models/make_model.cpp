#include "runtime/models/make_model.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/core/files.h"
#include "runtime/core/hash.h"
#include "runtime/weights/safetensors.h"

namespace ps {

// ---- the spec from the options ----------------------------------------------------------------
namespace {

// {"type": ...} entries of the mlp presets, as a user would write them in config.json.
Json mlp_preset_layers(const std::string& preset) {
  auto linear = [](int64_t in, int64_t out, bool bias) {
    return Json{{"type", "linear"}, {"in_features", in}, {"out_features", out}, {"bias", bias}};
  };
  auto act = [](const char* fn) { return Json{{"type", "activation"}, {"function", fn}}; };
  auto norm = [](const char* type, int64_t size, double eps) {
    return Json{{"type", type}, {"size", size}, {"eps", eps}};
  };
  if (preset == "tiny")
    return Json::array({linear(16, 64, true), act("gelu_tanh"), norm("layer_norm", 64, 1e-5), linear(64, 64, true),
                        act("relu"), norm("rms_norm", 64, 1e-6), linear(64, 8, true)});
  return Json::array({linear(256, 1024, true), act("gelu"), norm("layer_norm", 1024, 1e-5), linear(1024, 1024, false),
                      act("silu"), norm("rms_norm", 1024, 1e-6), linear(1024, 1024, true), act("tanh"),
                      linear(1024, 256, true)});
}

int64_t positive(const std::optional<int64_t>& v, const char* option, int64_t dflt) {
  if (!v) return dflt;
  if (*v <= 0) fail_input("--", option, ": must be positive, got ", *v);
  return *v;
}

void refuse_options(const char* family, const std::vector<std::pair<const char*, bool>>& set) {
  for (const auto& [name, given] : set)
    if (given) fail_input("--", name, ": not an option of the ", family, " family");
}

ModelSpec preset_transformer(const MakeModelOptions& o) {
  const bool small = o.preset == "small";
  ModelSpec s;
  if (o.family == Family::Gpt2) {
    s.model_type = "gpt2";
    s.n_layers = small ? 12 : 4;
    s.hidden = small ? 768 : 64;
    s.n_heads = small ? 12 : 4;
    s.vocab_size = small ? 50257 : 512;
    s.max_positions = small ? 1024 : 256;
    s.norm_eps = 1e-5;
    s.tie_embeddings = true;
  } else {
    s.model_type = "llama";
    s.n_layers = small ? 12 : 4;
    s.hidden = small ? 768 : 64;
    s.n_heads = small ? 12 : 4;
    s.n_kv_heads = small ? 4 : 2;
    s.intermediate = small ? 2048 : 176;
    s.vocab_size = small ? 32000 : 512;
    s.max_positions = small ? 2048 : 256;
    s.norm_eps = 1e-5;
    s.tie_embeddings = small;
  }
  return s;
}

void apply_llama_options(const MakeModelOptions& o, ModelSpec& s) {
  s.model_type = o.model_type.empty() ? "llama" : o.model_type;
  if (s.model_type != "llama" && s.model_type != "mistral" && s.model_type != "qwen2")
    fail_input("--model-type: '", s.model_type, "' is not a llama-family model type (llama, mistral, qwen2)");
  s.n_kv_heads = positive(o.kv_heads, "kv-heads", s.n_kv_heads);
  if (o.head_dim) {
    s.head_dim = positive(o.head_dim, "head-dim", 0);
  } else {
    if (s.hidden % s.n_heads != 0)
      fail_input("--heads: ", s.n_heads, " does not divide the hidden size ", s.hidden, " (or give --head-dim)");
    s.head_dim = s.hidden / s.n_heads;
  }
  if (s.n_heads % s.n_kv_heads != 0)
    fail_input("--kv-heads: ", s.n_kv_heads, " does not divide the number of heads ", s.n_heads);
  s.tie_embeddings = s.tie_embeddings || o.tie_embeddings;
  // Biases as each HF class has them (model_spec.h).
  if (s.model_type == "qwen2") {
    s.qkv_bias = true;
  } else if (o.qkv_bias) {
    if (s.model_type == "mistral")
      fail_input("--qkv-bias: Mistral has no attention bias (use --model-type llama or qwen2)");
    s.qkv_bias = s.o_bias = true;
  }
  if (o.rope_theta) {
    if (!(*o.rope_theta > 0)) fail_input("--rope-theta: must be positive, got ", *o.rope_theta);
    s.rope_theta = *o.rope_theta;
  }
  if (o.rope_factor && o.rope_scaling.empty()) fail_input("--rope-factor: needs --rope-scaling linear|llama3");
  if (o.rope_factor && !(*o.rope_factor > 0)) fail_input("--rope-factor: must be positive, got ", *o.rope_factor);
  if (o.rope_scaling == "linear") {
    s.rope_scaling.type = RopeScaling::Type::Linear;
    s.rope_scaling.factor = o.rope_factor.value_or(2.0);
  } else if (o.rope_scaling == "llama3") {
    // Llama 3.1's low/high frequency factors. The "original" context is the whole context here, so
    // for the small head dims of the presets all three frequency bands (kept, blended, scaled) occur.
    s.rope_scaling.type = RopeScaling::Type::Llama3;
    s.rope_scaling.factor = o.rope_factor.value_or(8.0);
    s.rope_scaling.low_freq_factor = 1.0;
    s.rope_scaling.high_freq_factor = 4.0;
    s.rope_scaling.original_max_position_embeddings = s.max_positions;
  } else if (!o.rope_scaling.empty()) {
    fail_input("--rope-scaling: '", o.rope_scaling, "' is not supported (linear, llama3)");
  }
}

}  // namespace

ModelSpec make_model_spec(const MakeModelOptions& o) {
  if (o.preset != "tiny" && o.preset != "small") fail_input("--preset: '", o.preset, "' is not a preset (tiny, small)");
  const bool transformer_dims = o.layers || o.hidden || o.heads || o.intermediate || o.vocab || o.max_positions;
  const bool llama_only = o.kv_heads || o.head_dim || o.qkv_bias || !o.model_type.empty() || o.rope_theta ||
                          !o.rope_scaling.empty() || o.rope_factor;
  ModelSpec s;
  if (o.family == Family::Mlp) {
    if (transformer_dims || llama_only || o.tie_embeddings)
      fail_input("the mlp family takes its layers from the preset; dimension and attention options"
                 " (--layers, --hidden, --heads, ...) apply to gpt2 and llama");
    const Json config = {{"model_type", "mlp"},
                         {"input_size", o.preset == "tiny" ? 16 : 256},
                         {"layers", mlp_preset_layers(o.preset)}};
    s = model_spec_from_json(config, "make-model mlp preset");
  } else {
    if (o.family == Family::Gpt2)
      refuse_options("gpt2",
                     {{"kv-heads", o.kv_heads.has_value()}, {"head-dim", o.head_dim.has_value()},
                      {"qkv-bias", o.qkv_bias}, {"model-type", !o.model_type.empty()},
                      {"rope-theta", o.rope_theta.has_value()},
                      {"rope-scaling", !o.rope_scaling.empty()}, {"rope-factor", o.rope_factor.has_value()}});
    s = preset_transformer(o);
    s.family = o.family;
    s.n_layers = positive(o.layers, "layers", s.n_layers);
    s.hidden = positive(o.hidden, "hidden", s.hidden);
    s.n_heads = positive(o.heads, "heads", s.n_heads);
    s.vocab_size = positive(o.vocab, "vocab", s.vocab_size);
    s.max_positions = positive(o.max_positions, "max-positions", s.max_positions);
    if (o.family == Family::Gpt2) {
      if (s.hidden % s.n_heads != 0) fail_input("--heads: ", s.n_heads, " does not divide the hidden size ", s.hidden);
      s.n_kv_heads = s.n_heads;
      s.head_dim = s.hidden / s.n_heads;
      s.intermediate = positive(o.intermediate, "intermediate", 4 * s.hidden);
      s.qkv_bias = s.o_bias = s.mlp_bias = true;
    } else {
      s.intermediate = positive(o.intermediate, "intermediate", s.intermediate);
      apply_llama_options(o, s);
    }
  }
  s.dtype = o.dtype;
  // The config we will write must read back as this very spec: the reader's checks (sizes,
  // divisibility) apply, and the layer list comes from the one place that builds it.
  return model_spec_from_json(model_spec_to_config_json(s), "make-model");
}

// ---- seeded weights -----------------------------------------------------------------------------
//
// Scaling (checked with a NumPy forward of the presets: greedy continuations of 32 tokens keep
// producing new tokens, logits have a standard deviation near 1, for tied and untied heads):
// - linear / Conv1D weights N(0, 1/sqrt(fan_in)): each projection keeps unit variance.
// - embeddings N(0, 1/sqrt(hidden)) (gpt2 wte and wpe too): the same rule as the LM head they are
//   tied to, giving unit-scale logits. A large embedding (N(0, 1)) makes a tied head predict the
//   current token again (e_t . e_t ~ hidden) and the output collapses into one repeated token.
// - attention output projections (o_proj, attn.c_proj) x 0.5/sqrt(2 layers), MLP output
//   projections (down_proj, mlp.c_proj) x 2/sqrt(2 layers): the residual stream stays O(1) over
//   depth, and it is dominated by the position-wise MLP rather than by attention, which averages
//   over the context and, when it dominates, makes every step predict the same token.
// - biases N(0, 0.02); norm weights 1 + N(0, 0.05); norm biases N(0, 0.02).
namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

struct Xoshiro256ss {
  uint64_t s[4];
  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

}  // namespace

void seeded_normal_fill(uint64_t seed, const std::string& key, double mean, double std, float* out, size_t n) {
  // The stream's state: splitmix64 seeded with mix(seed) ^ fnv1a(key), as xoshiro's authors advise.
  uint64_t seed_state = seed;
  uint64_t sm = splitmix64_next(seed_state) ^ fnv1a64(key);
  Xoshiro256ss g{{splitmix64_next(sm), splitmix64_next(sm), splitmix64_next(sm), splitmix64_next(sm)}};
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  constexpr double k2m53 = 1.0 / 9007199254740992.0;  // 2^-53
  for (size_t i = 0; i < n; i += 2) {
    // Box-Muller: u1 in (0, 1] keeps log finite; each pair of uniforms gives two normals.
    const double u1 = static_cast<double>((g.next() >> 11) + 1) * k2m53;
    const double u2 = static_cast<double>(g.next() >> 11) * k2m53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = static_cast<float>(mean + std * r * std::cos(kTwoPi * u2));
    if (i + 1 < n) out[i + 1] = static_cast<float>(mean + std * r * std::sin(kTwoPi * u2));
  }
}

WeightInit make_model_init(const ModelSpec& spec, const TensorSpec& t) {
  const std::string& n = t.name;
  if (t.shape.rank == 1) {
    // Every rank-1 ".weight" of the three families is a norm's scale; every ".bias" a bias.
    return ends_with(n, ".weight") ? WeightInit{1.0, 0.05} : WeightInit{0.0, 0.02};
  }
  PS_CHECK(t.shape.rank == 2, "tensor ", n, " of rank ", t.shape.rank);
  const double hidden_scale = 1.0 / std::sqrt(static_cast<double>(spec.hidden));
  if (ends_with(n, "wte.weight") || ends_with(n, "wpe.weight") || ends_with(n, "embed_tokens.weight"))
    return {0.0, hidden_scale};
  // nn.Linear is [out, in]; GPT-2's Conv1D is [in, out].
  const int64_t fan_in = spec.family == Family::Gpt2 ? t.shape[0] : t.shape[1];
  double std = 1.0 / std::sqrt(static_cast<double>(fan_in));
  const double depth = std::sqrt(2.0 * static_cast<double>(spec.n_layers));
  if (ends_with(n, "self_attn.o_proj.weight") || ends_with(n, "attn.c_proj.weight")) std *= 0.5 / depth;
  if (ends_with(n, "mlp.down_proj.weight") || ends_with(n, "mlp.c_proj.weight")) std *= 2.0 / depth;
  return {0.0, std};
}

std::vector<float> make_model_tensor(const ModelSpec& spec, const TensorSpec& tensor, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(tensor.shape.numel()));
  const WeightInit init = make_model_init(spec, tensor);
  seeded_normal_fill(seed, tensor.name, init.mean, init.std, v.data(), v.size());
  if (spec.family == Family::Gpt2 && ends_with(tensor.name, "mlp.c_proj.weight")) {
    // GELU's output has a positive mean, so c_proj would add the same direction at every
    // position and greedy decoding would settle on one token. Centring each output column over
    // the inner dimension ([in, out] layout) removes that constant part.
    const int64_t in = tensor.shape[0], out = tensor.shape[1];
    for (int64_t c = 0; c < out; ++c) {
      double mean = 0;
      for (int64_t r = 0; r < in; ++r) mean += v[static_cast<size_t>(r * out + c)];
      mean /= static_cast<double>(in);
      for (int64_t r = 0; r < in; ++r) v[static_cast<size_t>(r * out + c)] -= static_cast<float>(mean);
    }
  }
  return v;
}

// ---- writing the folder -------------------------------------------------------------------------
namespace {

namespace fs = std::filesystem;

// Each tensor once, in layer order (a tied head repeats the embedding's matrix).
std::vector<TensorSpec> unique_tensors(const ModelSpec& spec) {
  std::vector<TensorSpec> out;
  std::set<std::string> seen;
  for (const auto& l : spec.layers)
    for (const auto& t : l.tensors)
      if (seen.insert(t.name).second) out.push_back(t);
  return out;
}

uint64_t tensor_bytes(const TensorSpec& t, DType d) { return static_cast<uint64_t>(t.shape.numel()) * dtype_size(d); }

// transformers' split: fill a shard until the next tensor would overflow it; a tensor larger
// than the limit gets a shard of its own.
std::vector<std::vector<TensorSpec>> split_shards(const std::vector<TensorSpec>& tensors, DType d, uint64_t limit) {
  std::vector<std::vector<TensorSpec>> shards(1);
  uint64_t used = 0;
  for (const auto& t : tensors) {
    const uint64_t b = tensor_bytes(t, d);
    if (limit > 0 && !shards.back().empty() && used + b > limit) {
      shards.emplace_back();
      used = 0;
    }
    shards.back().push_back(t);
    used += b;
  }
  return shards;
}

std::string shard_name(size_t k, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", k + 1, n);
  return buf;
}

void write_shard(const ModelSpec& spec, const std::vector<TensorSpec>& tensors, uint64_t seed,
                 const std::string& path) {
  std::vector<Buffer> data;
  std::vector<SafetensorsTensorOut> out;
  for (const auto& t : tensors) {
    const std::vector<float> v = make_model_tensor(spec, t, seed);
    Buffer b(v.size() * dtype_size(spec.dtype));
    convert_from_f32(spec.dtype, v.data(), b.data(), v.size());
    out.push_back({t.name, spec.dtype, t.shape, b.data()});
    data.push_back(std::move(b));
  }
  safetensors_write(path, out, {{"format", "pt"}});
}

// Removes the temporary directory unless the run got as far as renaming it into place.
struct TempDirGuard {
  fs::path path;
  bool keep = false;
  ~TempDirGuard() {
    std::error_code ec;
    if (!keep) fs::remove_all(path, ec);
  }
};

void check_out_dir(const fs::path& out, bool force) {
  std::error_code ec;
  const auto st = fs::status(out, ec);
  if (!fs::exists(st)) return;
  if (!fs::is_directory(st)) fail_input("--out ", out.string(), ": exists and is not a directory");
  if (!fs::is_empty(out, ec) && !force)
    fail_input("--out ", out.string(), ": exists and is not empty (use --force to replace it)");
}

// Renames tmp to out. An existing out (empty, or replaced with --force) is moved aside first and
// removed only after the new folder is in place.
void move_into_place(const fs::path& tmp, const fs::path& out) {
  std::error_code ec;
  fs::path old;
  if (fs::exists(out, ec)) {
    old = out;
    old += ".old." + std::to_string(::getpid());
    fs::rename(out, old, ec);
    if (ec) fail_runtime(out.string(), ": cannot move the existing folder aside: ", ec.message());
  }
  fs::rename(tmp, out, ec);
  if (ec) {
    std::error_code ignore;
    if (!old.empty()) fs::rename(old, out, ignore);
    fail_runtime(out.string(), ": cannot rename ", tmp.string(), " into place: ", ec.message());
  }
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace

MakeModelReport make_model_write(const ModelSpec& spec, const MakeModelOptions& opts, const std::string& out_dir) {
  if (out_dir.empty()) fail_input("--out: must not be empty");
  fs::path out = fs::path(out_dir).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // "dir/" names dir
  check_out_dir(out, opts.force);
  std::error_code ec;
  const fs::path parent = fs::absolute(out, ec).parent_path();
  fs::create_directories(parent, ec);
  if (ec) fail_input("--out ", out_dir, ": cannot create ", parent.string(), ": ", ec.message());

  TempDirGuard tmp{parent / (out.filename().string() + ".tmp." + std::to_string(::getpid()))};
  fs::remove_all(tmp.path, ec);
  if (!fs::create_directory(tmp.path, ec) || ec)
    fail_input("--out ", out_dir, ": cannot create ", tmp.path.string(), ": ", ec.message());

  MakeModelReport report;
  report.params = spec.param_count();
  report.files.push_back("config.json");
  file_write_atomic((tmp.path / "config.json").string(), model_spec_to_config_json(spec).dump(2) + "\n");

  const std::vector<TensorSpec> tensors = unique_tensors(spec);
  const auto shards = split_shards(tensors, spec.dtype, opts.shard_size);
  Json weight_map = Json::object();
  for (size_t k = 0; k < shards.size(); ++k) {
    // One shard's tensors in memory at a time; a single file holds them all.
    const std::string name = shards.size() == 1 ? "model.safetensors" : shard_name(k, shards.size());
    write_shard(spec, shards[k], opts.seed, (tmp.path / name).string());
    report.files.push_back(name);
    for (const auto& t : shards[k]) {
      weight_map[t.name] = name;
      report.bytes += tensor_bytes(t, spec.dtype);
    }
  }
  if (shards.size() > 1) {
    const Json index = {{"metadata", {{"total_size", report.bytes}}}, {"weight_map", weight_map}};
    file_write_atomic((tmp.path / "model.safetensors.index.json").string(), index.dump(2) + "\n");
    report.files.push_back("model.safetensors.index.json");
  }
  check_out_dir(out, opts.force);  // it may have appeared while we wrote
  move_into_place(tmp.path, out);
  tmp.keep = true;
  return report;
}

}  // namespace ps
