// Model spec: reading HF config.json for each family, the layer list with tensor names and shapes
// as transformers writes them, every refusal and error case, and the round trip through
// model_spec_to_config_json. Parameter counts are checked against the published figures.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/spec/model_spec.h"
#include "support/test_support.h"

namespace ps {
namespace {

const char* kFile = "m/config.json";

// The config.json of the Hugging Face "gpt2" checkpoint (trimmed of its task-specific params).
Json gpt2_small_config() {
  return Json::parse(R"({
    "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
    "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
    "n_inner": null, "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1,
    "summary_activation": null, "summary_type": "cls_index", "vocab_size": 50257})");
}

// Meta-Llama-3.1-8B's config.json.
Json llama31_8b_config() {
  return Json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
    "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "rope_theta": 500000.0,
    "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.43.0.dev0",
    "use_cache": true, "vocab_size": 128256})");
}

// Qwen2.5-0.5B's config.json.
Json qwen25_05b_config() {
  return Json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
    "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 24,
    "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
    "torch_dtype": "bfloat16", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

// Mistral-7B-v0.3's config.json (sliding_window null).
Json mistral_v03_config() {
  return Json::parse(R"({
    "architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
    "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 32768})");
}

Json tiny_llama_config() {
  return Json::parse(R"({
    "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "intermediate_size": 176, "vocab_size": 512, "max_position_embeddings": 256})");
}

Json tiny_mlp_config() {
  return Json::parse(R"({
    "model_type": "mlp", "architectures": ["PipeshardMLP"], "input_size": 16, "torch_dtype": "float16",
    "layers": [
      {"type": "linear", "in_features": 16, "out_features": 64, "bias": true},
      {"type": "activation", "function": "gelu_tanh"},
      {"type": "layer_norm", "size": 64, "eps": 1e-5},
      {"type": "linear", "in_features": 64, "out_features": 32, "bias": false},
      {"type": "activation", "function": "relu"},
      {"type": "rms_norm", "size": 32, "eps": 1e-6},
      {"type": "linear", "in_features": 32, "out_features": 8}
    ]})");
}

ModelSpec parse(const Json& j) { return model_spec_from_json(j, kFile); }

// The shape of the tensor called `name` anywhere in the spec (fails the test when absent).
Shape shape_of(const ModelSpec& s, const std::string& name) {
  for (const auto& l : s.layers)
    for (const auto& t : l.tensors)
      if (t.name == name) return t.shape;
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

bool has_tensor(const LayerSpec& l, const std::string& name) {
  for (const auto& t : l.tensors)
    if (t.name == name) return true;
  return false;
}

// Expects InvalidInput whose message names the file and every fragment (the key, the reason).
void expect_invalid(const Json& j, const std::vector<std::string>& fragments) {
  try {
    parse(j);
    ADD_FAILURE() << "accepted: " << j.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << e.what();
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(std::string(kFile) + ": ", 0), 0u) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

Json with(Json j, const std::string& key, const Json& value) {
  j[key] = value;
  return j;
}

Json without(Json j, const std::string& key) {
  j.erase(key);
  return j;
}

// ---- gpt2 ----------------------------------------------------------------------------------

TEST(ModelSpecGpt2, ParsesGpt2SmallDimsAndTensors) {
  const ModelSpec s = parse(gpt2_small_config());
  EXPECT_EQ(s.family, Family::Gpt2);
  EXPECT_EQ(s.architecture, "GPT2LMHeadModel");
  EXPECT_EQ(s.hidden, 768);
  EXPECT_EQ(s.n_layers, 12);
  EXPECT_EQ(s.n_heads, 12);
  EXPECT_EQ(s.n_kv_heads, 12);
  EXPECT_EQ(s.head_dim, 64);
  EXPECT_EQ(s.intermediate, 4 * 768);  // n_inner null
  EXPECT_EQ(s.vocab_size, 50257);
  EXPECT_EQ(s.max_positions, 1024);
  EXPECT_DOUBLE_EQ(s.norm_eps, 1e-5);
  EXPECT_TRUE(s.tie_embeddings);
  EXPECT_EQ(s.dtype, DType::F32);  // no torch_dtype
  EXPECT_EQ(s.bos_token_id, 50256);
  EXPECT_EQ(s.eos_token_ids, std::vector<int64_t>{50256});

  ASSERT_EQ(s.num_layers(), 14);
  EXPECT_EQ(s.layers[0].name, "embedding");
  EXPECT_EQ(s.layers[0].kind, LayerKind::Embedding);
  EXPECT_EQ(s.layers[4].name, "block.3");
  EXPECT_EQ(s.layers[4].block, 3);
  EXPECT_EQ(s.layers[4].index, 4);
  EXPECT_EQ(s.layers[13].name, "head");
  EXPECT_EQ(s.layers[13].kind, LayerKind::Head);

  EXPECT_EQ(shape_of(s, "transformer.wte.weight"), (Shape{50257, 768}));
  EXPECT_EQ(shape_of(s, "transformer.wpe.weight"), (Shape{1024, 768}));
  const std::vector<std::pair<std::string, Shape>> block3 = {
      {"ln_1.weight", {768}},           {"ln_1.bias", {768}},           {"attn.c_attn.weight", {768, 2304}},
      {"attn.c_attn.bias", {2304}},     {"attn.c_proj.weight", {768, 768}}, {"attn.c_proj.bias", {768}},
      {"ln_2.weight", {768}},           {"ln_2.bias", {768}},           {"mlp.c_fc.weight", {768, 3072}},
      {"mlp.c_fc.bias", {3072}},        {"mlp.c_proj.weight", {3072, 768}}, {"mlp.c_proj.bias", {768}}};
  ASSERT_EQ(s.layers[4].tensors.size(), block3.size());
  for (size_t i = 0; i < block3.size(); ++i) {
    EXPECT_EQ(s.layers[4].tensors[i].name, "transformer.h.3." + block3[i].first);
    EXPECT_EQ(s.layers[4].tensors[i].shape, block3[i].second) << block3[i].first;
  }
  // The head: ln_f and the tied wte.
  ASSERT_EQ(s.layers[13].tensors.size(), 3u);
  EXPECT_EQ(s.layers[13].tensors[0].name, "transformer.ln_f.weight");
  EXPECT_EQ(s.layers[13].tensors[1].name, "transformer.ln_f.bias");
  EXPECT_EQ(s.layers[13].tensors[2].name, "transformer.wte.weight");
  EXPECT_EQ(s.layers[13].param_count(), 2 * 768 + 50257 * 768);
  // GPT-2 small's published parameter count (the tied matrix counted once).
  EXPECT_EQ(s.param_count(), 124439808);
}

TEST(ModelSpecGpt2, ExplicitInnerAndOldContextKey) {
  Json j = without(gpt2_small_config(), "n_positions");
  j["n_ctx"] = 512;
  j["n_inner"] = 1000;
  j["torch_dtype"] = "float16";
  const ModelSpec s = parse(j);
  EXPECT_EQ(s.max_positions, 512);
  EXPECT_EQ(s.intermediate, 1000);
  EXPECT_EQ(s.dtype, DType::F16);
  EXPECT_EQ(shape_of(s, "transformer.h.0.mlp.c_fc.weight"), (Shape{768, 1000}));
  EXPECT_EQ(shape_of(s, "transformer.wpe.weight"), (Shape{512, 768}));
}

TEST(ModelSpecGpt2, AcceptsPytorchTanhGelu) {
  EXPECT_NO_THROW(parse(with(gpt2_small_config(), "activation_function", "gelu_pytorch_tanh")));
}

TEST(ModelSpecGpt2, RefusesOtherActivation) {
  expect_invalid(with(gpt2_small_config(), "activation_function", "relu"), {"activation_function", "relu"});
}
TEST(ModelSpecGpt2, RefusesUntiedHead) {
  expect_invalid(with(gpt2_small_config(), "tie_word_embeddings", false), {"tie_word_embeddings", "tied"});
}
TEST(ModelSpecGpt2, RefusesInverseLayerIdxScaling) {
  expect_invalid(with(gpt2_small_config(), "scale_attn_by_inverse_layer_idx", true), {"scale_attn_by_inverse_layer_idx"});
}
TEST(ModelSpecGpt2, RefusesReorderAndUpcast) {
  expect_invalid(with(gpt2_small_config(), "reorder_and_upcast_attn", true), {"reorder_and_upcast_attn"});
}
TEST(ModelSpecGpt2, RefusesUnscaledAttention) {
  expect_invalid(with(gpt2_small_config(), "scale_attn_weights", false), {"scale_attn_weights"});
}
TEST(ModelSpecGpt2, RefusesHiddenNotDivisibleByHeads) {
  expect_invalid(with(gpt2_small_config(), "n_head", 7), {"n_head", "not divisible"});
}
TEST(ModelSpecGpt2, RefusesMissingPositions) {
  expect_invalid(without(without(gpt2_small_config(), "n_positions"), "n_ctx"), {"n_positions", "missing"});
}
TEST(ModelSpecGpt2, RefusesClassificationHead) {
  expect_invalid(with(gpt2_small_config(), "architectures", Json::array({"GPT2ForSequenceClassification"})),
                 {"architectures", "GPT2ForSequenceClassification", "GPT2LMHeadModel"});
}

// ---- llama family --------------------------------------------------------------------------

TEST(ModelSpecLlama, ParsesLlama31WithGqaAndLlama3Rope) {
  const ModelSpec s = parse(llama31_8b_config());
  EXPECT_EQ(s.family, Family::Llama);
  EXPECT_EQ(s.model_type, "llama");
  EXPECT_EQ(s.hidden, 4096);
  EXPECT_EQ(s.n_heads, 32);
  EXPECT_EQ(s.n_kv_heads, 8);
  EXPECT_EQ(s.head_dim, 128);
  EXPECT_EQ(s.intermediate, 14336);
  EXPECT_EQ(s.max_positions, 131072);
  EXPECT_DOUBLE_EQ(s.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(s.norm_eps, 1e-5);
  EXPECT_EQ(s.dtype, DType::BF16);
  EXPECT_FALSE(s.tie_embeddings);
  EXPECT_FALSE(s.qkv_bias);
  EXPECT_FALSE(s.o_bias);
  EXPECT_EQ(s.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(s.rope_scaling.type, RopeScaling::Type::Llama3);
  EXPECT_DOUBLE_EQ(s.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(s.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(s.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(s.rope_scaling.original_max_position_embeddings, 8192);

  ASSERT_EQ(s.num_layers(), 34);
  const LayerSpec& b = s.layers[1];
  const std::vector<std::pair<std::string, Shape>> block0 = {
      {"input_layernorm.weight", {4096}},         {"self_attn.q_proj.weight", {4096, 4096}},
      {"self_attn.k_proj.weight", {1024, 4096}},  {"self_attn.v_proj.weight", {1024, 4096}},
      {"self_attn.o_proj.weight", {4096, 4096}},  {"post_attention_layernorm.weight", {4096}},
      {"mlp.gate_proj.weight", {14336, 4096}},    {"mlp.up_proj.weight", {14336, 4096}},
      {"mlp.down_proj.weight", {4096, 14336}}};
  ASSERT_EQ(b.tensors.size(), block0.size());
  for (size_t i = 0; i < block0.size(); ++i) {
    EXPECT_EQ(b.tensors[i].name, "model.layers.0." + block0[i].first);
    EXPECT_EQ(b.tensors[i].shape, block0[i].second) << block0[i].first;
  }
  // Untied head: final norm + its own lm_head.
  const LayerSpec& head = s.layers.back();
  ASSERT_EQ(head.tensors.size(), 2u);
  EXPECT_EQ(head.tensors[0].name, "model.norm.weight");
  EXPECT_EQ(head.tensors[1].name, "lm_head.weight");
  EXPECT_EQ(head.tensors[1].shape, (Shape{128256, 4096}));
  EXPECT_EQ(s.param_count(), 8030261248);  // Llama-3.1-8B's published count
}

TEST(ModelSpecLlama, KvHeadsDefaultToHeads) {
  const ModelSpec s = parse(without(tiny_llama_config(), "num_key_value_heads"));
  EXPECT_EQ(s.n_kv_heads, 4);
  EXPECT_EQ(shape_of(s, "model.layers.0.self_attn.k_proj.weight"), (Shape{64, 64}));
  EXPECT_DOUBLE_EQ(s.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(s.norm_eps, 1e-6);
  EXPECT_EQ(s.rope_scaling.type, RopeScaling::Type::None);
}

TEST(ModelSpecLlama, ExplicitHeadDim) {
  Json j = tiny_llama_config();
  j["num_attention_heads"] = 3;  // 64 is not divisible by 3: head_dim makes it legal
  j["num_key_value_heads"] = 1;
  j["head_dim"] = 32;
  const ModelSpec s = parse(j);
  EXPECT_EQ(s.head_dim, 32);
  EXPECT_EQ(shape_of(s, "model.layers.1.self_attn.q_proj.weight"), (Shape{96, 64}));
  EXPECT_EQ(shape_of(s, "model.layers.1.self_attn.k_proj.weight"), (Shape{32, 64}));
  EXPECT_EQ(shape_of(s, "model.layers.1.self_attn.v_proj.weight"), (Shape{32, 64}));
  EXPECT_EQ(shape_of(s, "model.layers.1.self_attn.o_proj.weight"), (Shape{64, 96}));
}

TEST(ModelSpecLlama, Qwen2HasQkvBiasTiedHead) {
  const ModelSpec s = parse(qwen25_05b_config());
  EXPECT_EQ(s.model_type, "qwen2");
  EXPECT_TRUE(s.qkv_bias);
  EXPECT_FALSE(s.o_bias);
  EXPECT_TRUE(s.tie_embeddings);
  EXPECT_EQ(s.head_dim, 64);
  EXPECT_EQ(shape_of(s, "model.layers.5.self_attn.q_proj.bias"), (Shape{896}));
  EXPECT_EQ(shape_of(s, "model.layers.5.self_attn.k_proj.bias"), (Shape{128}));
  EXPECT_EQ(shape_of(s, "model.layers.5.self_attn.v_proj.bias"), (Shape{128}));
  EXPECT_FALSE(has_tensor(s.layers[6], "model.layers.5.self_attn.o_proj.bias"));
  const LayerSpec& head = s.layers.back();
  ASSERT_EQ(head.tensors.size(), 2u);
  EXPECT_EQ(head.tensors[1].name, "model.embed_tokens.weight");  // tied
  EXPECT_EQ(s.param_count(), 494032768);  // Qwen2.5-0.5B's published count
}

TEST(ModelSpecLlama, LlamaAttentionBiasCoversOutputProjection) {
  const ModelSpec s = parse(with(with(tiny_llama_config(), "attention_bias", true), "mlp_bias", true));
  EXPECT_TRUE(s.qkv_bias);
  EXPECT_TRUE(s.o_bias);
  for (const char* n : {"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
                        "self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.down_proj.bias"})
    EXPECT_TRUE(has_tensor(s.layers[1], std::string("model.layers.0.") + n)) << n;
  EXPECT_EQ(shape_of(s, "model.layers.0.self_attn.k_proj.bias"), (Shape{32}));
  EXPECT_EQ(shape_of(s, "model.layers.0.mlp.down_proj.bias"), (Shape{64}));
}

TEST(ModelSpecLlama, Mistral) {
  const ModelSpec s = parse(mistral_v03_config());
  EXPECT_EQ(s.model_type, "mistral");
  EXPECT_EQ(s.architecture, "MistralForCausalLM");
  EXPECT_EQ(s.n_kv_heads, 8);
  EXPECT_FALSE(s.qkv_bias);
  EXPECT_EQ(s.num_layers(), 34);
  // Mistral has no attention_bias: transformers ignores the key, so do we.
  EXPECT_FALSE(parse(with(mistral_v03_config(), "attention_bias", true)).qkv_bias);
  // A window as wide as the context changes nothing.
  EXPECT_NO_THROW(parse(with(mistral_v03_config(), "sliding_window", 32768)));
}

TEST(ModelSpecLlama, TiedAndUntiedHeads) {
  const ModelSpec untied = parse(tiny_llama_config());
  const ModelSpec tied = parse(with(tiny_llama_config(), "tie_word_embeddings", true));
  EXPECT_EQ(untied.layers.back().tensors.back().name, "lm_head.weight");
  EXPECT_EQ(tied.layers.back().tensors.back().name, "model.embed_tokens.weight");
  EXPECT_EQ(untied.layers.back().param_count(), tied.layers.back().param_count());
  // Tied: the shared matrix is counted once.
  EXPECT_EQ(untied.param_count() - tied.param_count(), 512 * 64);
}

TEST(ModelSpecLlama, LinearRopeScalingWithOldTypeKey) {
  const ModelSpec s = parse(with(tiny_llama_config(), "rope_scaling", {{"type", "linear"}, {"factor", 2.0}}));
  EXPECT_EQ(s.rope_scaling.type, RopeScaling::Type::Linear);
  EXPECT_DOUBLE_EQ(s.rope_scaling.factor, 2.0);
}

TEST(ModelSpecLlama, RopeParametersOfTransformers5) {
  const Json rp = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                   {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  const ModelSpec s = parse(with(tiny_llama_config(), "rope_parameters", rp));
  EXPECT_DOUBLE_EQ(s.rope_theta, 500000.0);
  EXPECT_EQ(s.rope_scaling.type, RopeScaling::Type::Llama3);
  EXPECT_DOUBLE_EQ(s.rope_scaling.factor, 32.0);
}

TEST(ModelSpecLlama, RefusesDynamicRope) {
  expect_invalid(with(tiny_llama_config(), "rope_scaling", {{"rope_type", "dynamic"}, {"factor", 2.0}}),
                 {"rope_scaling.rope_type", "dynamic", "linear, llama3"});
}
TEST(ModelSpecLlama, RefusesYarnRopeUnderOldTypeKey) {
  expect_invalid(with(tiny_llama_config(), "rope_scaling", {{"type", "yarn"}, {"factor", 4.0}}),
                 {"rope_scaling.type", "yarn"});
}
TEST(ModelSpecLlama, RefusesLlama3RopeWithoutItsFactors) {
  expect_invalid(with(tiny_llama_config(), "rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}),
                 {"rope_scaling.low_freq_factor", "missing"});
}
TEST(ModelSpecLlama, RefusesRopeScalingOfWrongType) {
  expect_invalid(with(tiny_llama_config(), "rope_scaling", "linear"), {"rope_scaling", "expected an object"});
}
TEST(ModelSpecLlama, RefusesMistralSlidingWindow) {
  // Mistral-7B-v0.1: a 4096 window over a 32768 context.
  expect_invalid(with(mistral_v03_config(), "sliding_window", 4096), {"sliding_window", "4096", "32768"});
}
TEST(ModelSpecLlama, RefusesMistralDefaultSlidingWindow) {
  expect_invalid(without(mistral_v03_config(), "sliding_window"), {"sliding_window", "default"});
}
TEST(ModelSpecLlama, RefusesQwen2SlidingWindowInUse) {
  Json j = with(qwen25_05b_config(), "use_sliding_window", true);
  j["sliding_window"] = 4096;
  expect_invalid(j, {"sliding_window", "4096"});
  // Not in use: harmless.
  EXPECT_NO_THROW(parse(with(j, "use_sliding_window", false)));
}
TEST(ModelSpecLlama, RefusesPartialRotary) {
  expect_invalid(with(tiny_llama_config(), "partial_rotary_factor", 0.5), {"partial_rotary_factor", "0.5"});
  EXPECT_NO_THROW(parse(with(tiny_llama_config(), "partial_rotary_factor", 1.0)));
}
TEST(ModelSpecLlama, RefusesAttentionSoftcapping) {
  expect_invalid(with(tiny_llama_config(), "attention_logit_softcapping", 50.0), {"attention_logit_softcapping"});
  EXPECT_NO_THROW(parse(with(tiny_llama_config(), "attention_logit_softcapping", nullptr)));
}
TEST(ModelSpecLlama, RefusesFinalSoftcapping) {
  expect_invalid(with(tiny_llama_config(), "final_logit_softcapping", 30.0), {"final_logit_softcapping"});
}
TEST(ModelSpecLlama, RefusesQuantizationConfig) {
  expect_invalid(with(tiny_llama_config(), "quantization_config", {{"quant_method", "gptq"}}),
                 {"quantization_config", "quantized"});
}
TEST(ModelSpecLlama, RefusesOtherActivation) {
  expect_invalid(with(tiny_llama_config(), "hidden_act", "gelu"), {"hidden_act", "gelu"});
}
TEST(ModelSpecLlama, RefusesHiddenNotDivisibleByHeadsWithoutHeadDim) {
  expect_invalid(with(tiny_llama_config(), "num_attention_heads", 3), {"num_attention_heads", "not divisible", "head_dim"});
}
TEST(ModelSpecLlama, RefusesHeadsNotDivisibleByKvHeads) {
  expect_invalid(with(tiny_llama_config(), "num_key_value_heads", 3), {"num_key_value_heads", "not divisible"});
}
TEST(ModelSpecLlama, RefusesMissingKey) {
  expect_invalid(without(tiny_llama_config(), "intermediate_size"), {"intermediate_size", "missing"});
}
TEST(ModelSpecLlama, RefusesWrongType) {
  expect_invalid(with(tiny_llama_config(), "num_attention_heads", "4"),
                 {"num_attention_heads: expected an integer, got string"});
}
TEST(ModelSpecLlama, RefusesFractionalDim) {
  expect_invalid(with(tiny_llama_config(), "hidden_size", 64.5), {"hidden_size", "expected an integer"});
}
TEST(ModelSpecLlama, RefusesNonPositiveDim) {
  expect_invalid(with(tiny_llama_config(), "num_hidden_layers", 0), {"num_hidden_layers", "positive"});
  expect_invalid(with(tiny_llama_config(), "vocab_size", -3), {"vocab_size", "positive"});
}
TEST(ModelSpecLlama, RefusesHugeDims) {
  expect_invalid(with(tiny_llama_config(), "num_hidden_layers", 1000000), {"num_hidden_layers", "supported"});
  expect_invalid(with(tiny_llama_config(), "vocab_size", int64_t{1} << 40), {"vocab_size", "larger"});
}
TEST(ModelSpecLlama, RefusesNonPositiveEps) {
  expect_invalid(with(tiny_llama_config(), "rms_norm_eps", 0.0), {"rms_norm_eps", "positive"});
}
TEST(ModelSpecLlama, RefusesUnknownDtype) {
  expect_invalid(with(tiny_llama_config(), "torch_dtype", "float64"), {"torch_dtype", "float64", "bfloat16"});
}
TEST(ModelSpecLlama, RefusesBadEosId) {
  expect_invalid(with(tiny_llama_config(), "eos_token_id", "</s>"), {"eos_token_id"});
}
TEST(ModelSpecLlama, IgnoresUnknownHfKeys) {
  const ModelSpec s = parse(with(with(tiny_llama_config(), "some_future_key", 3), "dtype", "bfloat16"));
  EXPECT_EQ(s.dtype, DType::BF16);  // transformers >= 4.56 spells torch_dtype "dtype"
}

// ---- common ----------------------------------------------------------------------------------

TEST(ModelSpecCommon, RefusesUnknownModelType) {
  expect_invalid(with(tiny_llama_config(), "model_type", "gemma2"), {"model_type", "gemma2", "gpt2, llama, mistral, qwen2, mlp"});
}
TEST(ModelSpecCommon, RefusesMissingModelType) {
  expect_invalid(without(tiny_llama_config(), "model_type"), {"model_type", "missing"});
}
TEST(ModelSpecCommon, RefusesNonObject) { expect_invalid(Json::array({1, 2}), {"expected a JSON object"}); }

TEST(ModelSpecCommon, LoadsFromDirectoryOrFile) {
  test::TempDir dir;
  test::write_text(dir.file("config.json"), tiny_llama_config().dump());
  EXPECT_EQ(model_spec_load(dir.path()).config_path, dir.file("config.json"));
  EXPECT_EQ(model_spec_load(dir.file("config.json")).hidden, 64);
}

TEST(ModelSpecCommon, LoadNamesMissingFileAndBadJson) {
  test::TempDir dir;
  try {
    model_spec_load(dir.path());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
    EXPECT_NE(std::string(e.what()).find(dir.file("config.json")), std::string::npos) << e.what();
  }
  test::write_text(dir.file("config.json"), "{\"model_type\": ");
  try {
    model_spec_load(dir.path());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
}

// ---- mlp -------------------------------------------------------------------------------------

TEST(ModelSpecMlp, ParsesLayersAndTensors) {
  const ModelSpec s = parse(tiny_mlp_config());
  EXPECT_EQ(s.family, Family::Mlp);
  EXPECT_EQ(s.dtype, DType::F16);
  EXPECT_EQ(s.input_size, 16);
  EXPECT_EQ(s.output_size, 8);
  ASSERT_EQ(s.num_layers(), 7);
  const std::vector<std::string> names = {"linear.0", "activation.1", "layer_norm.2", "linear.3",
                                          "activation.4", "rms_norm.5", "linear.6"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(s.layers[static_cast<size_t>(i)].name, names[static_cast<size_t>(i)]);
    EXPECT_EQ(s.layers[static_cast<size_t>(i)].index, i);
  }
  EXPECT_EQ(s.layers[1].activation, Activation::GeluTanh);
  EXPECT_EQ(s.layers[4].activation, Activation::Relu);
  EXPECT_TRUE(s.layers[1].tensors.empty());
  EXPECT_EQ(shape_of(s, "layers.0.weight"), (Shape{64, 16}));
  EXPECT_EQ(shape_of(s, "layers.0.bias"), (Shape{64}));
  EXPECT_EQ(shape_of(s, "layers.2.weight"), (Shape{64}));
  EXPECT_EQ(shape_of(s, "layers.2.bias"), (Shape{64}));
  EXPECT_DOUBLE_EQ(s.layers[2].eps, 1e-5);
  EXPECT_EQ(shape_of(s, "layers.3.weight"), (Shape{32, 64}));
  EXPECT_EQ(s.layers[3].tensors.size(), 1u);  // bias: false
  EXPECT_EQ(s.layers[5].tensors.size(), 1u);  // rms_norm: weight only
  EXPECT_EQ(shape_of(s, "layers.5.weight"), (Shape{32}));
  EXPECT_TRUE(s.layers[6].bias);               // bias defaults to true
  EXPECT_EQ(s.layers[6].in_features, 32);
  EXPECT_EQ(s.layers[6].out_features, 8);
  EXPECT_EQ(s.param_count(), (16 * 64 + 64) + 2 * 64 + 64 * 32 + 32 + (32 * 8 + 8));
}

Json mlp_with_layer(size_t i, const Json& layer) {
  Json j = tiny_mlp_config();
  j["layers"][i] = layer;
  return j;
}

TEST(ModelSpecMlp, RefusesBrokenWidthChain) {
  expect_invalid(mlp_with_layer(3, {{"type", "linear"}, {"in_features", 60}, {"out_features", 32}}),
                 {"layers[3].in_features", "60", "64"});
}
TEST(ModelSpecMlp, RefusesNormOfWrongSize) {
  expect_invalid(mlp_with_layer(2, {{"type", "layer_norm"}, {"size", 32}}), {"layers[2].size", "32", "64"});
}
TEST(ModelSpecMlp, RefusesUnknownActivation) {
  expect_invalid(mlp_with_layer(1, {{"type", "activation"}, {"function", "swishy"}}), {"layers[1].function", "swishy"});
}
TEST(ModelSpecMlp, RefusesUnknownLayerType) {
  expect_invalid(mlp_with_layer(1, {{"type", "dropout"}}), {"layers[1].type", "dropout"});
}
TEST(ModelSpecMlp, RefusesTypoInLayerKey) {
  expect_invalid(mlp_with_layer(0, {{"type", "linear"}, {"in_features", 16}, {"out_feature", 64}}),
                 {"layers[0].out_feature", "did you mean 'out_features'"});
}
TEST(ModelSpecMlp, RefusesTypoInTopLevelKey) {
  expect_invalid(with(tiny_mlp_config(), "input_sise", 3), {"input_sise", "input_size"});
}
TEST(ModelSpecMlp, RefusesEmptyLayerList) {
  expect_invalid(with(tiny_mlp_config(), "layers", Json::array()), {"layers", "non-empty"});
}
TEST(ModelSpecMlp, RefusesMissingInputSize) {
  expect_invalid(without(tiny_mlp_config(), "input_size"), {"input_size", "missing"});
}

// ---- round trip ------------------------------------------------------------------------------

void expect_same_spec(const ModelSpec& a, const ModelSpec& b) {
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden, b.hidden);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.n_heads, b.n_heads);
  EXPECT_EQ(a.n_kv_heads, b.n_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.intermediate, b.intermediate);
  EXPECT_EQ(a.max_positions, b.max_positions);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.tie_embeddings, b.tie_embeddings);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.o_bias, b.o_bias);
  EXPECT_EQ(a.mlp_bias, b.mlp_bias);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  EXPECT_EQ(a.rope_scaling.factor, b.rope_scaling.factor);
  EXPECT_EQ(a.rope_scaling.low_freq_factor, b.rope_scaling.low_freq_factor);
  EXPECT_EQ(a.rope_scaling.high_freq_factor, b.rope_scaling.high_freq_factor);
  EXPECT_EQ(a.rope_scaling.original_max_position_embeddings, b.rope_scaling.original_max_position_embeddings);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_ids, b.eos_token_ids);
  EXPECT_EQ(a.input_size, b.input_size);
  EXPECT_EQ(a.output_size, b.output_size);
  ASSERT_EQ(a.num_layers(), b.num_layers());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const LayerSpec &la = a.layers[i], &lb = b.layers[i];
    EXPECT_EQ(la.name, lb.name);
    EXPECT_EQ(la.kind, lb.kind);
    EXPECT_EQ(la.in_features, lb.in_features);
    EXPECT_EQ(la.out_features, lb.out_features);
    EXPECT_EQ(la.bias, lb.bias);
    EXPECT_EQ(la.activation, lb.activation);
    EXPECT_EQ(la.eps, lb.eps);
    ASSERT_EQ(la.tensors.size(), lb.tensors.size()) << la.name;
    for (size_t t = 0; t < la.tensors.size(); ++t) {
      EXPECT_EQ(la.tensors[t].name, lb.tensors[t].name);
      EXPECT_EQ(la.tensors[t].shape, lb.tensors[t].shape);
    }
  }
}

void expect_round_trip(const Json& config) {
  const ModelSpec a = parse(config);
  const Json written = model_spec_to_config_json(a);
  // Through text, as a file would carry it.
  const ModelSpec b = model_spec_from_json(Json::parse(written.dump(2)), kFile);
  expect_same_spec(a, b);
  EXPECT_EQ(written.at("torch_dtype"), dtype_torch_name(a.dtype));
  EXPECT_EQ(written.at("architectures").at(0), a.architecture);
}

TEST(ModelSpecRoundTrip, Gpt2) {
  expect_round_trip(gpt2_small_config());
  const Json inner = with(gpt2_small_config(), "n_inner", 1000);
  expect_round_trip(inner);
  EXPECT_TRUE(model_spec_to_config_json(parse(gpt2_small_config())).at("n_inner").is_null());
  EXPECT_EQ(model_spec_to_config_json(parse(gpt2_small_config())).at("activation_function"), "gelu_new");
}
TEST(ModelSpecRoundTrip, Llama31) { expect_round_trip(llama31_8b_config()); }
TEST(ModelSpecRoundTrip, LlamaBiasesAndLinearRope) {
  Json j = with(with(tiny_llama_config(), "attention_bias", true), "mlp_bias", true);
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  j["head_dim"] = 8;
  expect_round_trip(j);
}
TEST(ModelSpecRoundTrip, Qwen2) { expect_round_trip(qwen25_05b_config()); }
TEST(ModelSpecRoundTrip, Mistral) { expect_round_trip(mistral_v03_config()); }
TEST(ModelSpecRoundTrip, Mlp) { expect_round_trip(tiny_mlp_config()); }

}  // namespace
}  // namespace ps
