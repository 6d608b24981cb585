// The model spec: what the planner and the runtime both need to know about a model, read from a
// Hugging Face `config.json` alone (no weights): the family, its dimensions, and the ordered list
// of layers that plans cut into stages -- the embedding, each block, the final norm with the head
// (for `mlp`: each layer of its JSON list) -- with every layer's parameter tensors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/dtype.h"
#include "runtime/core/json_util.h"
#include "runtime/core/rope_scaling.h"
#include "runtime/core/tensor.h"

namespace ps {

enum class Family : uint8_t { Gpt2, Llama, Mlp };
const char* family_name(Family f);  // "gpt2", "llama", "mlp"

// One parameter tensor as the checkpoint names it. Names are the ones transformers writes
// (`transformer.h.0.ln_1.weight`, `model.layers.0.self_attn.q_proj.weight`, `lm_head.weight`);
// the loader also accepts them without the `transformer.` / `model.` prefix.
struct TensorSpec {
  std::string name;
  Shape shape;
};

enum class LayerKind : uint8_t {
  Embedding,  // gpt2: wte + wpe; llama: embed_tokens
  Block,      // one transformer block
  Head,       // final norm + LM head (the head may be the tied embedding)
  MlpLinear,
  MlpActivation,
  MlpLayerNorm,
  MlpRmsNorm,
};
const char* layer_kind_name(LayerKind k);

enum class Activation : uint8_t { Gelu, GeluTanh, Relu, Silu, Tanh };
// The mlp config's spelling: "gelu", "gelu_tanh", "relu", "silu", "tanh".
const char* activation_name(Activation a);
std::optional<Activation> activation_parse(std::string_view s);

struct LayerSpec {
  LayerKind kind = LayerKind::Block;
  int index = 0;           // position in ModelSpec::layers
  int block = -1;          // block number for LayerKind::Block
  std::string name;        // "embedding", "block.3", "head"; mlp: "<type>.<i>" ("linear.0", "activation.1")
  std::vector<TensorSpec> tensors;
  // mlp layers (activations and norms have in_features == out_features == the running width)
  int64_t in_features = 0, out_features = 0;
  bool bias = false;
  Activation activation = Activation::Relu;
  double eps = 0.0;

  int64_t param_count() const;  // sum of the tensors' elements
};

struct ModelSpec {
  Family family = Family::Llama;
  std::string model_type;    // config.json "model_type": gpt2, llama, mistral, qwen2, mlp
  std::string architecture;  // "architectures"[0]
  std::string config_path;   // for messages
  DType dtype = DType::F32;  // torch_dtype (the checkpoint's storage type)

  // transformer dims
  int64_t vocab_size = 0;
  int64_t hidden = 0;
  int64_t n_layers = 0;       // blocks
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;     // == n_heads without GQA
  int64_t head_dim = 0;       // hidden / n_heads unless config gives head_dim
  int64_t intermediate = 0;   // MLP inner size (gpt2: n_inner or 4*hidden)
  int64_t max_positions = 0;  // context length
  double norm_eps = 1e-5;
  bool tie_embeddings = false;
  // Which linears carry a bias. gpt2: all of them. llama: `attention_bias` puts a bias on q, k, v
  // AND o_proj (as HF's LlamaAttention does); qwen2: q, k, v only; mistral: none.
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;      // llama: mlp_bias (gate, up, down)
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  std::optional<int64_t> bos_token_id;  // informational (never added to prompts silently)
  std::vector<int64_t> eos_token_ids;   // config's eos_token_id (an int or a list)

  // mlp family
  int64_t input_size = 0;
  int64_t output_size = 0;

  std::vector<LayerSpec> layers;  // the ordered layer list plans index into

  // Distinct parameters: a tied head's embedding matrix is counted once (LayerSpec::param_count
  // counts it in both layers, since a stage holding only the head still needs it in memory).
  int64_t param_count() const;
  int num_layers() const { return static_cast<int>(layers.size()); }
};

// Reads `<dir>/config.json` (or a path to a config file). Every bad or unsupported key is an
// InvalidInput error naming the file and the key; a key that changes the math and is not
// implemented (rope_scaling of other types, sliding_window in use, partial_rotary_factor, ...)
// is refused, never ignored.
ModelSpec model_spec_load(const std::string& dir_or_config);
ModelSpec model_spec_from_json(const Json& config, const std::string& path_for_messages);
// The config.json transformers would write for this spec (used by make-model).
Json model_spec_to_config_json(const ModelSpec& spec);
// Fills spec.layers from the dims (called by the readers; exposed for make-model). For gpt2 and
// llama it builds the whole list; for mlp, spec.layers must already hold each entry's kind,
// in/out features, bias, activation and eps, and this fills index, name and tensors.
void model_spec_build_layers(ModelSpec& spec);

}  // namespace ps
