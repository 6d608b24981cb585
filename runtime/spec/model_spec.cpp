// Reading a model spec from a Hugging Face config.json. HF configs carry many keys we do not need
// (dropout, tokenizer ids, generation defaults): those are ignored. The keys that change the
// math are either implemented exactly or refused -- never ignored (docs/DESIGN.md). Every error names
// the file and the key: "m/config.json: num_attention_heads: expected an integer, got string".
#include <sys/stat.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "runtime/spec/model_spec.h"

namespace ps {
namespace {

// Dims beyond int32 are no real model and would let products of dims overflow int64.
constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxBlocks = 1 << 16;

int64_t read_dim(const JsonField& f, const char* key) {
  const int64_t v = f.require_int(key);
  if (v <= 0) fail_input(f.path(key), ": must be positive, got ", v);
  if (v > kMaxDim) fail_input(f.path(key), ": ", v, " is larger than the supported ", kMaxDim);
  return v;
}

// A missing or null key gives the default (HF writes `null` for "use the default").
int64_t read_dim_or(const JsonField& f, const char* key, int64_t dflt) { return f.has(key) ? read_dim(f, key) : dflt; }

double read_positive(const JsonField& f, const char* key) {
  const double v = f.require_number(key);
  if (!(v > 0)) fail_input(f.path(key), ": must be positive, got ", v);
  return v;
}

double read_positive_or(const JsonField& f, const char* key, double dflt) {
  const double v = f.get_number(key, dflt);
  if (!(v > 0)) fail_input(f.path(key), ": must be positive, got ", v);
  return v;
}

[[noreturn]] void refuse(const JsonField& f, const char* key, const std::string& why) {
  const Json& v = f.obj.at(key);
  fail_input(f.path(key), ": ", v.is_object() ? std::string("an object") : v.dump(), " is not supported (", why, ")");
}

DType read_dtype(const JsonField& f) {
  // transformers >= 4.56 writes "dtype"; older versions "torch_dtype".
  const char* key = f.has("torch_dtype") || !f.has("dtype") ? "torch_dtype" : "dtype";
  const std::string s = f.get_string(key, "float32");
  const auto t = dtype_parse(s);
  if (!t) fail_input(f.path(key), ": '", s, "' is not supported (float32, float16, bfloat16)");
  return *t;
}

// architectures[0] when given; only causal-LM heads are ours (a classification head differs).
std::string read_architecture(const JsonField& f, const std::vector<std::string>& accepted) {
  if (!f.has("architectures")) return accepted.front();
  const Json& a = f.require("architectures");
  if (!a.is_array() || a.empty() || !a[0].is_string())
    fail_input(f.path("architectures"), ": expected a non-empty list of strings, got ", a.dump());
  const std::string arch = a[0].get<std::string>();
  for (const auto& ok : accepted)
    if (arch == ok) return arch;
  std::string list;
  for (const auto& ok : accepted) list += (list.empty() ? "" : ", ") + ok;
  fail_input(f.path("architectures"), ": '", arch, "' is not supported for model_type '",
             f.require_string("model_type"), "' (supported: ", list, ")");
}

int64_t token_id(const JsonField& f, const char* key, const Json& v) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0)
    fail_input(f.path(key), ": expected a non-negative integer token id, got ", v.dump());
  return v.get<int64_t>();
}

void read_token_ids(const JsonField& f, ModelSpec& s) {
  if (f.has("bos_token_id")) s.bos_token_id = token_id(f, "bos_token_id", f.require("bos_token_id"));
  if (!f.has("eos_token_id")) return;
  const Json& e = f.require("eos_token_id");
  if (e.is_array()) {
    for (const auto& v : e) s.eos_token_ids.push_back(token_id(f, "eos_token_id", v));
  } else {
    s.eos_token_ids.push_back(token_id(f, "eos_token_id", e));
  }
}

void read_gpt2(const JsonField& f, ModelSpec& s) {
  s.family = Family::Gpt2;
  s.architecture = read_architecture(f, {"GPT2LMHeadModel"});
  s.hidden = read_dim(f, "n_embd");
  s.n_layers = read_dim(f, "n_layer");
  s.n_heads = read_dim(f, "n_head");
  s.vocab_size = read_dim(f, "vocab_size");
  // n_ctx is the older spelling of n_positions.
  s.max_positions = f.has("n_positions") || !f.has("n_ctx") ? read_dim(f, "n_positions") : read_dim(f, "n_ctx");
  s.intermediate = read_dim_or(f, "n_inner", 4 * s.hidden);
  s.norm_eps = read_positive_or(f, "layer_norm_epsilon", 1e-5);
  if (s.hidden % s.n_heads != 0)
    fail_input(f.path("n_head"), ": n_embd ", s.hidden, " is not divisible by n_head ", s.n_heads);
  s.n_kv_heads = s.n_heads;
  s.head_dim = s.hidden / s.n_heads;
  s.qkv_bias = s.o_bias = s.mlp_bias = true;  // every Conv1D of GPT-2 has a bias

  const std::string act = f.get_string("activation_function", "gelu_new");
  if (act != "gelu_new" && act != "gelu_pytorch_tanh")
    refuse(f, "activation_function", "GPT-2 runs the tanh GELU: gelu_new or gelu_pytorch_tanh");
  if (!f.get_bool("tie_word_embeddings", true))
    refuse(f, "tie_word_embeddings", "GPT-2's LM head is tied to wte");
  s.tie_embeddings = true;
  if (!f.get_bool("scale_attn_weights", true))
    refuse(f, "scale_attn_weights", "attention is scaled by 1/sqrt(head_dim)");
  if (f.get_bool("scale_attn_by_inverse_layer_idx", false))
    refuse(f, "scale_attn_by_inverse_layer_idx", "changes the attention scale");
  if (f.get_bool("reorder_and_upcast_attn", false)) refuse(f, "reorder_and_upcast_attn", "changes the attention math");
  if (f.get_bool("add_cross_attention", false)) refuse(f, "add_cross_attention", "decoder-only models only");
}

void read_rope_scaling(const JsonField& f, const char* key, ModelSpec& s) {
  if (!f.has(key)) return;
  const Json& r = f.require(key);
  if (!r.is_object()) fail_input(f.path(key), ": expected an object or null, got ", json_type_name(r));
  const JsonField rf{r, f.path(key)};
  const char* type_key = rf.has("rope_type") || !rf.has("type") ? "rope_type" : "type";
  const std::string type = rf.get_string(type_key, "default");
  RopeScaling& sc = s.rope_scaling;
  if (type == "default") {
    sc = RopeScaling{};
  } else if (type == "linear") {
    sc.type = RopeScaling::Type::Linear;
    sc.factor = read_positive(rf, "factor");
  } else if (type == "llama3") {
    sc.type = RopeScaling::Type::Llama3;
    sc.factor = read_positive(rf, "factor");
    sc.low_freq_factor = read_positive(rf, "low_freq_factor");
    sc.high_freq_factor = read_positive(rf, "high_freq_factor");
    sc.original_max_position_embeddings = read_dim(rf, "original_max_position_embeddings");
    if (!(sc.high_freq_factor > sc.low_freq_factor))
      fail_input(rf.path("high_freq_factor"), ": must be larger than low_freq_factor (", sc.low_freq_factor, ")");
  } else {
    fail_input(rf.path(type_key), ": '", type, "' is not supported (supported: linear, llama3)");
  }
}

void read_llama(const JsonField& f, ModelSpec& s) {
  s.family = Family::Llama;
  const std::string& mt = s.model_type;
  // transformers picks the class from model_type; architectures only has to be a causal-LM head.
  const char* own = mt == "llama" ? "LlamaForCausalLM" : mt == "mistral" ? "MistralForCausalLM" : "Qwen2ForCausalLM";
  std::vector<std::string> accepted{own};
  for (const char* a : {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"})
    if (a != accepted.front()) accepted.push_back(a);
  s.architecture = read_architecture(f, accepted);
  s.hidden = read_dim(f, "hidden_size");
  s.n_layers = read_dim(f, "num_hidden_layers");
  s.n_heads = read_dim(f, "num_attention_heads");
  s.n_kv_heads = read_dim_or(f, "num_key_value_heads", s.n_heads);
  s.intermediate = read_dim(f, "intermediate_size");
  s.vocab_size = read_dim(f, "vocab_size");
  s.max_positions = read_dim(f, "max_position_embeddings");
  s.norm_eps = read_positive_or(f, "rms_norm_eps", 1e-6);
  if (f.has("head_dim")) {
    s.head_dim = read_dim(f, "head_dim");
  } else {
    if (s.hidden % s.n_heads != 0)
      fail_input(f.path("num_attention_heads"), ": hidden_size ", s.hidden, " is not divisible by num_attention_heads ",
                 s.n_heads, " (and no head_dim is given)");
    s.head_dim = s.hidden / s.n_heads;
  }
  if (s.n_heads % s.n_kv_heads != 0)
    fail_input(f.path("num_key_value_heads"), ": num_attention_heads ", s.n_heads,
               " is not divisible by num_key_value_heads ", s.n_kv_heads);
  if (s.n_heads * s.head_dim > kMaxDim) fail_input(f.path("head_dim"), ": num_attention_heads * head_dim is too large");
  s.tie_embeddings = f.get_bool("tie_word_embeddings", false);

  // Biases follow each HF class: LlamaAttention's attention_bias covers q, k, v and o_proj;
  // Qwen2 always has q, k, v bias and none on o_proj; Mistral has none (its config has no key).
  if (mt == "llama") {
    s.qkv_bias = s.o_bias = f.get_bool("attention_bias", false);
    s.mlp_bias = f.get_bool("mlp_bias", false);
  } else if (mt == "qwen2") {
    s.qkv_bias = true;
  }

  const std::string act = f.get_string("hidden_act", "silu");
  if (act != "silu" && act != "swish") refuse(f, "hidden_act", "the SwiGLU MLP uses silu");

  // RoPE: transformers 5 moves rope_theta and the scaling into "rope_parameters".
  const bool params = f.has("rope_parameters");
  if (params) {
    const Json& rp = f.require("rope_parameters");
    if (!rp.is_object()) fail_input(f.path("rope_parameters"), ": expected an object, got ", json_type_name(rp));
    s.rope_theta = read_positive_or(JsonField{rp, f.path("rope_parameters")}, "rope_theta", 10000.0);
    read_rope_scaling(f, "rope_parameters", s);
  } else {
    s.rope_theta = read_positive_or(f, "rope_theta", 10000.0);
  }
  if (f.has("rope_scaling")) read_rope_scaling(f, "rope_scaling", s);

  // Sliding-window attention is harmless while the window covers the whole context. Mistral
  // applies it whenever the key is not null (a missing key means MistralConfig's default, 4096);
  // Qwen2 only with use_sliding_window.
  const bool window_in_use = mt == "mistral" || (mt == "qwen2" && f.get_bool("use_sliding_window", false));
  const bool window_null = f.obj.contains("sliding_window") && f.obj.at("sliding_window").is_null();
  if (window_in_use && !window_null) {
    const int64_t window = read_dim_or(f, "sliding_window", 4096);
    if (window < s.max_positions)
      fail_input(f.path("sliding_window"), ": ", window, f.has("sliding_window") ? "" : " (the default)",
                 " is not supported (sliding-window attention narrower than max_position_embeddings ",
                 s.max_positions, "; set it to null or raise it)");
  }
  if (f.has("partial_rotary_factor") && f.require_number("partial_rotary_factor") != 1.0)
    refuse(f, "partial_rotary_factor", "rotary embedding covers the whole head");
  for (const char* key : {"attention_logit_softcapping", "final_logit_softcapping"})
    if (f.has(key)) refuse(f, key, "logit soft-capping");
}

void read_mlp(const JsonField& f, ModelSpec& s) {
  // Our own format, often written by hand: unknown keys are typos, so they are errors.
  f.reject_unknown_keys({"architectures", "model_type", "input_size", "layers", "torch_dtype", "dtype",
                         "transformers_version"});
  s.family = Family::Mlp;
  s.architecture = read_architecture(f, {"PipeshardMLP"});
  s.input_size = read_dim(f, "input_size");
  const Json& list = f.require("layers");
  if (!list.is_array() || list.empty())
    fail_input(f.path("layers"), ": expected a non-empty list of layers, got ", list.dump());
  int64_t width = s.input_size;
  for (size_t i = 0; i < list.size(); ++i) {
    const JsonField lf{list[i], json_path(f.path("layers"), i)};
    if (!list[i].is_object()) fail_input(lf.where, ": expected an object, got ", json_type_name(list[i]));
    const std::string type = lf.require_string("type");
    LayerSpec l;
    l.in_features = l.out_features = width;
    if (type == "linear") {
      lf.reject_unknown_keys({"type", "in_features", "out_features", "bias"});
      l.kind = LayerKind::MlpLinear;
      l.in_features = read_dim(lf, "in_features");
      if (l.in_features != width)
        fail_input(lf.path("in_features"), ": ", l.in_features, " does not match the width ", width,
                   " coming out of the previous layer");
      l.out_features = read_dim(lf, "out_features");
      l.bias = lf.get_bool("bias", true);
    } else if (type == "activation") {
      lf.reject_unknown_keys({"type", "function"});
      l.kind = LayerKind::MlpActivation;
      const std::string fn = lf.require_string("function");
      const auto a = activation_parse(fn);
      if (!a) fail_input(lf.path("function"), ": '", fn, "' is not supported (relu, gelu, gelu_tanh, silu, tanh)");
      l.activation = *a;
    } else if (type == "layer_norm" || type == "rms_norm") {
      lf.reject_unknown_keys({"type", "size", "eps"});
      l.kind = type == "layer_norm" ? LayerKind::MlpLayerNorm : LayerKind::MlpRmsNorm;
      const int64_t size = read_dim_or(lf, "size", width);
      if (size != width)
        fail_input(lf.path("size"), ": ", size, " does not match the width ", width,
                   " coming out of the previous layer");
      l.eps = read_positive_or(lf, "eps", type == "layer_norm" ? 1e-5 : 1e-6);
    } else {
      fail_input(lf.path("type"), ": '", type, "' is not a layer type (linear, activation, layer_norm, rms_norm)");
    }
    width = l.out_features;
    s.layers.push_back(std::move(l));
  }
  s.output_size = width;
}

// Every tensor's element count, and their sum, must fit int64 (a hostile config could ask for more).
void check_sizes(const ModelSpec& s) {
  int64_t total = 0;
  for (const auto& l : s.layers)
    for (const auto& t : l.tensors) {
      int64_t n = 1;
      for (int d = 0; d < t.shape.rank; ++d)
        if (__builtin_mul_overflow(n, t.shape[d], &n))
          fail_input("tensor '", t.name, "' ", t.shape.str(), " is too large");
      if (__builtin_add_overflow(total, n, &total)) fail_input("the model's parameter count overflows 64 bits");
    }
}

ModelSpec read_config(const Json& config, const std::string& path) {
  if (!config.is_object()) fail_input("expected a JSON object, got ", json_type_name(config));
  const JsonField f{config, ""};
  ModelSpec s;
  s.config_path = path;
  s.model_type = f.require_string("model_type");
  if (f.has("quantization_config")) refuse(f, "quantization_config", "quantized checkpoints");
  s.dtype = read_dtype(f);
  if (s.model_type == "gpt2") read_gpt2(f, s);
  else if (s.model_type == "llama" || s.model_type == "mistral" || s.model_type == "qwen2") read_llama(f, s);
  else if (s.model_type == "mlp") read_mlp(f, s);
  else fail_input("model_type: '", s.model_type, "' is not supported (supported: gpt2, llama, mistral, qwen2, mlp)");
  if (s.family != Family::Mlp && s.n_layers > kMaxBlocks)
    fail_input(s.family == Family::Gpt2 ? "n_layer" : "num_hidden_layers", ": ", s.n_layers,
               " is more than the supported ", kMaxBlocks);
  if (s.family != Family::Mlp) read_token_ids(f, s);
  model_spec_build_layers(s);
  check_sizes(s);
  return s;
}

}  // namespace

ModelSpec model_spec_from_json(const Json& config, const std::string& path_for_messages) {
  return with_context(path_for_messages, [&] { return read_config(config, path_for_messages); });
}

ModelSpec model_spec_load(const std::string& dir_or_config) {
  struct stat st {};
  const bool is_dir = ::stat(dir_or_config.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  const std::string path = is_dir ? dir_or_config + "/config.json" : dir_or_config;
  return model_spec_from_json(json_read_file(path), path);
}

}  // namespace ps
