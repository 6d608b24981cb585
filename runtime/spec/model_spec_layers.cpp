// The ordered layer list of a model spec, built from its dims, with every parameter tensor named
// and shaped exactly as transformers writes it; plus the names and counts of model_spec.h.
#include <string>

#include "runtime/spec/model_spec.h"

namespace ps {

const char* family_name(Family f) {
  switch (f) {
    case Family::Gpt2: return "gpt2";
    case Family::Llama: return "llama";
    case Family::Mlp: return "mlp";
  }
  return "?";
}

const char* layer_kind_name(LayerKind k) {
  switch (k) {
    case LayerKind::Embedding: return "embedding";
    case LayerKind::Block: return "block";
    case LayerKind::Head: return "head";
    case LayerKind::MlpLinear: return "linear";
    case LayerKind::MlpActivation: return "activation";
    case LayerKind::MlpLayerNorm: return "layer_norm";
    case LayerKind::MlpRmsNorm: return "rms_norm";
  }
  return "?";
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Gelu: return "gelu";
    case Activation::GeluTanh: return "gelu_tanh";
    case Activation::Relu: return "relu";
    case Activation::Silu: return "silu";
    case Activation::Tanh: return "tanh";
  }
  return "?";
}

std::optional<Activation> activation_parse(std::string_view s) {
  for (Activation a : {Activation::Gelu, Activation::GeluTanh, Activation::Relu, Activation::Silu, Activation::Tanh})
    if (s == activation_name(a)) return a;
  return std::nullopt;
}

int64_t LayerSpec::param_count() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.shape.numel();
  return n;
}

int64_t ModelSpec::param_count() const {
  int64_t n = 0;
  for (const auto& l : layers)
    for (const auto& t : l.tensors) {
      // A tied head repeats the embedding's tensor: count it once.
      const bool tied_repeat = l.kind == LayerKind::Head && !layers.empty() &&
                               layers.front().kind == LayerKind::Embedding &&
                               !layers.front().tensors.empty() && layers.front().tensors.front().name == t.name;
      if (!tied_repeat) n += t.shape.numel();
    }
  return n;
}

namespace {

void add(LayerSpec& l, std::string name, Shape shape) { l.tensors.push_back({std::move(name), shape}); }

LayerSpec make_layer(LayerKind kind, std::string name) {
  LayerSpec l;
  l.kind = kind;
  l.name = std::move(name);
  return l;
}

void build_gpt2(ModelSpec& s) {
  const int64_t H = s.hidden, I = s.intermediate, V = s.vocab_size;
  LayerSpec emb = make_layer(LayerKind::Embedding, "embedding");
  add(emb, "transformer.wte.weight", {V, H});
  add(emb, "transformer.wpe.weight", {s.max_positions, H});
  s.layers.push_back(std::move(emb));
  for (int64_t i = 0; i < s.n_layers; ++i) {
    LayerSpec b = make_layer(LayerKind::Block, "block." + std::to_string(i));
    b.block = static_cast<int>(i);
    const std::string p = "transformer.h." + std::to_string(i) + ".";
    // Conv1D stores its weight [in, out] (y = x W + b).
    add(b, p + "ln_1.weight", {H});
    add(b, p + "ln_1.bias", {H});
    add(b, p + "attn.c_attn.weight", {H, 3 * H});
    add(b, p + "attn.c_attn.bias", {3 * H});
    add(b, p + "attn.c_proj.weight", {H, H});
    add(b, p + "attn.c_proj.bias", {H});
    add(b, p + "ln_2.weight", {H});
    add(b, p + "ln_2.bias", {H});
    add(b, p + "mlp.c_fc.weight", {H, I});
    add(b, p + "mlp.c_fc.bias", {I});
    add(b, p + "mlp.c_proj.weight", {I, H});
    add(b, p + "mlp.c_proj.bias", {H});
    s.layers.push_back(std::move(b));
  }
  LayerSpec head = make_layer(LayerKind::Head, "head");
  add(head, "transformer.ln_f.weight", {H});
  add(head, "transformer.ln_f.bias", {H});
  add(head, "transformer.wte.weight", {V, H});  // GPT-2's LM head is always tied to wte
  s.layers.push_back(std::move(head));
}

void build_llama(ModelSpec& s) {
  const int64_t H = s.hidden, I = s.intermediate, V = s.vocab_size;
  const int64_t q_out = s.n_heads * s.head_dim, kv_out = s.n_kv_heads * s.head_dim;
  LayerSpec emb = make_layer(LayerKind::Embedding, "embedding");
  add(emb, "model.embed_tokens.weight", {V, H});
  s.layers.push_back(std::move(emb));
  for (int64_t i = 0; i < s.n_layers; ++i) {
    LayerSpec b = make_layer(LayerKind::Block, "block." + std::to_string(i));
    b.block = static_cast<int>(i);
    const std::string p = "model.layers." + std::to_string(i) + ".";
    // nn.Linear stores its weight [out, in] (y = x W^T + b).
    add(b, p + "input_layernorm.weight", {H});
    add(b, p + "self_attn.q_proj.weight", {q_out, H});
    if (s.qkv_bias) add(b, p + "self_attn.q_proj.bias", {q_out});
    add(b, p + "self_attn.k_proj.weight", {kv_out, H});
    if (s.qkv_bias) add(b, p + "self_attn.k_proj.bias", {kv_out});
    add(b, p + "self_attn.v_proj.weight", {kv_out, H});
    if (s.qkv_bias) add(b, p + "self_attn.v_proj.bias", {kv_out});
    add(b, p + "self_attn.o_proj.weight", {H, q_out});
    if (s.o_bias) add(b, p + "self_attn.o_proj.bias", {H});
    add(b, p + "post_attention_layernorm.weight", {H});
    add(b, p + "mlp.gate_proj.weight", {I, H});
    if (s.mlp_bias) add(b, p + "mlp.gate_proj.bias", {I});
    add(b, p + "mlp.up_proj.weight", {I, H});
    if (s.mlp_bias) add(b, p + "mlp.up_proj.bias", {I});
    add(b, p + "mlp.down_proj.weight", {H, I});
    if (s.mlp_bias) add(b, p + "mlp.down_proj.bias", {H});
    s.layers.push_back(std::move(b));
  }
  LayerSpec head = make_layer(LayerKind::Head, "head");
  add(head, "model.norm.weight", {H});
  add(head, s.tie_embeddings ? "model.embed_tokens.weight" : "lm_head.weight", {V, H});
  s.layers.push_back(std::move(head));
}

void build_mlp(ModelSpec& s) {
  for (size_t i = 0; i < s.layers.size(); ++i) {
    LayerSpec& l = s.layers[i];
    l.name = std::string(layer_kind_name(l.kind)) + "." + std::to_string(i);
    l.tensors.clear();
    const std::string p = "layers." + std::to_string(i) + ".";
    switch (l.kind) {
      case LayerKind::MlpLinear:
        add(l, p + "weight", {l.out_features, l.in_features});
        if (l.bias) add(l, p + "bias", {l.out_features});
        break;
      case LayerKind::MlpLayerNorm:
        add(l, p + "weight", {l.out_features});
        add(l, p + "bias", {l.out_features});
        break;
      case LayerKind::MlpRmsNorm: add(l, p + "weight", {l.out_features}); break;
      case LayerKind::MlpActivation: break;
      default: PS_CHECK(false, "layer ", i, " of an mlp spec has kind ", layer_kind_name(l.kind));
    }
  }
}

}  // namespace

void model_spec_build_layers(ModelSpec& spec) {
  if (spec.family == Family::Mlp) {
    build_mlp(spec);
  } else {
    spec.layers.clear();
    if (spec.family == Family::Gpt2) build_gpt2(spec);
    else build_llama(spec);
  }
  for (size_t i = 0; i < spec.layers.size(); ++i) spec.layers[i].index = static_cast<int>(i);
}

}  // namespace ps
