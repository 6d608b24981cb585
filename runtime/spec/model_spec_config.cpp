// The config.json that transformers writes for a spec: the inverse of model_spec_from_json, so a
// folder written by make-model loads in transformers and back in pipeshard unchanged.
#include <nlohmann/json.hpp>

#include "runtime/spec/model_spec.h"

namespace ps {
namespace {

void put_token_ids(const ModelSpec& s, Json& j) {
  if (s.bos_token_id) j["bos_token_id"] = *s.bos_token_id;
  if (s.eos_token_ids.size() == 1) j["eos_token_id"] = s.eos_token_ids.front();
  else if (!s.eos_token_ids.empty()) j["eos_token_id"] = s.eos_token_ids;
}

Json gpt2_config(const ModelSpec& s) {
  PS_CHECK(s.tie_embeddings, "gpt2's head is always tied");
  Json j;
  j["architectures"] = Json::array({s.architecture.empty() ? "GPT2LMHeadModel" : s.architecture});
  j["model_type"] = "gpt2";
  j["activation_function"] = "gelu_new";
  j["n_embd"] = s.hidden;
  j["n_layer"] = s.n_layers;
  j["n_head"] = s.n_heads;
  j["n_positions"] = s.max_positions;
  j["n_inner"] = s.intermediate == 4 * s.hidden ? Json(nullptr) : Json(s.intermediate);  // null means 4 * n_embd
  j["vocab_size"] = s.vocab_size;
  j["layer_norm_epsilon"] = s.norm_eps;
  j["tie_word_embeddings"] = true;
  j["scale_attn_weights"] = true;
  j["scale_attn_by_inverse_layer_idx"] = false;
  j["reorder_and_upcast_attn"] = false;
  j["attn_pdrop"] = 0.1;
  j["embd_pdrop"] = 0.1;
  j["resid_pdrop"] = 0.1;
  j["initializer_range"] = 0.02;
  j["use_cache"] = true;
  return j;
}

Json llama_config(const ModelSpec& s) {
  const std::string& mt = s.model_type;
  // What each HF class can express (see the bias comment in model_spec.h).
  PS_CHECK(mt == "llama" || mt == "mistral" || mt == "qwen2", "model_type ", mt);
  PS_CHECK(mt == "llama" || !s.mlp_bias, mt, " has no mlp_bias");
  PS_CHECK(mt != "llama" || s.qkv_bias == s.o_bias, "llama's attention_bias covers q, k, v and o together");
  PS_CHECK(mt != "qwen2" || (s.qkv_bias && !s.o_bias), "qwen2 has q/k/v bias and no o_proj bias");
  PS_CHECK(mt != "mistral" || (!s.qkv_bias && !s.o_bias), "mistral has no attention bias");
  Json j;
  const char* arch = mt == "llama" ? "LlamaForCausalLM" : mt == "mistral" ? "MistralForCausalLM" : "Qwen2ForCausalLM";
  j["architectures"] = Json::array({s.architecture.empty() ? arch : s.architecture});
  j["model_type"] = mt;
  j["hidden_size"] = s.hidden;
  j["num_hidden_layers"] = s.n_layers;
  j["num_attention_heads"] = s.n_heads;
  j["num_key_value_heads"] = s.n_kv_heads;
  j["head_dim"] = s.head_dim;
  j["intermediate_size"] = s.intermediate;
  j["vocab_size"] = s.vocab_size;
  j["max_position_embeddings"] = s.max_positions;
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = s.norm_eps;
  j["rope_theta"] = s.rope_theta;
  j["tie_word_embeddings"] = s.tie_embeddings;
  j["attention_dropout"] = 0.0;
  j["initializer_range"] = 0.02;
  j["use_cache"] = true;
  const RopeScaling& r = s.rope_scaling;
  if (r.type == RopeScaling::Type::None) {
    j["rope_scaling"] = nullptr;
  } else if (r.type == RopeScaling::Type::Linear) {
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", r.factor}};
  } else {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", r.factor},
                         {"low_freq_factor", r.low_freq_factor},
                         {"high_freq_factor", r.high_freq_factor},
                         {"original_max_position_embeddings", r.original_max_position_embeddings}};
  }
  if (mt == "llama") {
    j["attention_bias"] = s.qkv_bias;
    j["mlp_bias"] = s.mlp_bias;
    j["pretraining_tp"] = 1;
  } else if (mt == "mistral") {
    j["sliding_window"] = nullptr;
  } else {
    j["use_sliding_window"] = false;
    j["sliding_window"] = nullptr;
    j["max_window_layers"] = s.n_layers;
  }
  return j;
}

Json mlp_config(const ModelSpec& s) {
  Json j;
  j["architectures"] = Json::array({"PipeshardMLP"});
  j["model_type"] = "mlp";
  j["input_size"] = s.input_size;
  Json layers = Json::array();
  for (const auto& l : s.layers) {
    Json e;
    e["type"] = layer_kind_name(l.kind);
    switch (l.kind) {
      case LayerKind::MlpLinear:
        e["in_features"] = l.in_features;
        e["out_features"] = l.out_features;
        e["bias"] = l.bias;
        break;
      case LayerKind::MlpActivation: e["function"] = activation_name(l.activation); break;
      case LayerKind::MlpLayerNorm:
      case LayerKind::MlpRmsNorm:
        e["size"] = l.out_features;
        e["eps"] = l.eps;
        break;
      default: PS_CHECK(false, "layer ", l.name, " of an mlp spec has kind ", layer_kind_name(l.kind));
    }
    layers.push_back(std::move(e));
  }
  j["layers"] = std::move(layers);
  return j;
}

}  // namespace

Json model_spec_to_config_json(const ModelSpec& spec) {
  Json j = spec.family == Family::Gpt2 ? gpt2_config(spec) : spec.family == Family::Llama ? llama_config(spec)
                                                                                         : mlp_config(spec);
  j["torch_dtype"] = dtype_torch_name(spec.dtype);
  if (spec.family != Family::Mlp) put_token_ids(spec, j);
  return j;
}

}  // namespace ps
