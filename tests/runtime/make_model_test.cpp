// make-model: the presets' specs, the option checks, the seeded weights (against an independent
// Python implementation of the generator), and the folder it writes (round trip through the
// config reader and the checkpoint loader, determinism, sharding).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/core/files.h"
#include "runtime/models/make_model.h"
#include "runtime/weights/checkpoint.h"
#include "support/test_support.h"

namespace ps {
namespace {

MakeModelOptions opts(Family f, const std::string& preset = "tiny") {
  MakeModelOptions o;
  o.family = f;
  o.preset = preset;
  return o;
}

// Expects InvalidInput whose message contains `fragment` (the option's name).
template <class F>
void expect_invalid(F&& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

const TensorSpec& tensor_named(const ModelSpec& s, const std::string& name) {
  for (const auto& l : s.layers)
    for (const auto& t : l.tensors)
      if (t.name == name) return t;
  throw std::runtime_error("no tensor " + name);
}

// ---- presets and options ---------------------------------------------------------------------

TEST(MakeModelSpec, LlamaTinyPreset) {
  const ModelSpec s = make_model_spec(opts(Family::Llama));
  EXPECT_EQ(s.model_type, "llama");
  EXPECT_EQ(s.n_layers, 4);
  EXPECT_EQ(s.hidden, 64);
  EXPECT_EQ(s.n_heads, 4);
  EXPECT_EQ(s.n_kv_heads, 2);
  EXPECT_EQ(s.head_dim, 16);
  EXPECT_EQ(s.intermediate, 176);
  EXPECT_EQ(s.vocab_size, 512);
  EXPECT_EQ(s.max_positions, 256);
  EXPECT_FALSE(s.tie_embeddings);
  EXPECT_EQ(s.num_layers(), 6);
  // embed + 4 blocks (2 norms, q, k, v, o, gate, up, down) + norm + lm_head, by hand.
  const int64_t block = 2 * 64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 64 * 176;
  EXPECT_EQ(s.param_count(), 512 * 64 + 4 * block + 64 + 512 * 64);
}

TEST(MakeModelSpec, LlamaSmallIsAbout100M) {
  const ModelSpec s = make_model_spec(opts(Family::Llama, "small"));
  EXPECT_EQ(s.n_layers, 12);
  EXPECT_EQ(s.hidden, 768);
  EXPECT_EQ(s.n_kv_heads, 4);
  EXPECT_EQ(s.intermediate, 2048);
  EXPECT_EQ(s.vocab_size, 32000);
  EXPECT_EQ(s.max_positions, 2048);
  EXPECT_TRUE(s.tie_embeddings);
  const int64_t block = 2 * 768 + 2 * 768 * 768 + 2 * 256 * 768 + 3 * 768 * 2048;
  EXPECT_EQ(s.param_count(), 32000 * 768 + 12 * block + 768);
  EXPECT_GE(s.param_count(), 90'000'000);
  EXPECT_LE(s.param_count(), 110'000'000);
}

TEST(MakeModelSpec, Gpt2Presets) {
  const ModelSpec tiny = make_model_spec(opts(Family::Gpt2));
  EXPECT_EQ(tiny.hidden, 64);
  EXPECT_EQ(tiny.n_layers, 4);
  EXPECT_EQ(tiny.intermediate, 256);
  EXPECT_EQ(tiny.vocab_size, 512);
  EXPECT_EQ(tiny.max_positions, 256);
  const ModelSpec small = make_model_spec(opts(Family::Gpt2, "small"));
  EXPECT_EQ(small.architecture, "GPT2LMHeadModel");
  EXPECT_EQ(small.param_count(), 124439808);  // GPT-2 small's published count
}

TEST(MakeModelSpec, MlpPresets) {
  const ModelSpec tiny = make_model_spec(opts(Family::Mlp));
  EXPECT_EQ(tiny.input_size, 16);
  EXPECT_EQ(tiny.output_size, 8);
  ASSERT_EQ(tiny.num_layers(), 7);
  const std::vector<LayerKind> kinds = {LayerKind::MlpLinear, LayerKind::MlpActivation, LayerKind::MlpLayerNorm,
                                        LayerKind::MlpLinear, LayerKind::MlpActivation, LayerKind::MlpRmsNorm,
                                        LayerKind::MlpLinear};
  for (size_t i = 0; i < kinds.size(); ++i) EXPECT_EQ(tiny.layers[i].kind, kinds[i]) << i;
  EXPECT_EQ(tiny.layers[1].activation, Activation::GeluTanh);
  EXPECT_EQ(tiny.layers[4].activation, Activation::Relu);
  EXPECT_EQ(tiny.layers[3].in_features, 64);
  EXPECT_EQ(tiny.layers[3].out_features, 64);
  const ModelSpec small = make_model_spec(opts(Family::Mlp, "small"));
  EXPECT_EQ(small.input_size, 256);
  EXPECT_EQ(small.output_size, 256);
  EXPECT_GT(small.param_count(), tiny.param_count());
}

TEST(MakeModelSpec, LlamaOverrides) {
  MakeModelOptions o = opts(Family::Llama);
  o.layers = 2;
  o.hidden = 48;
  o.heads = 3;
  o.kv_heads = 1;
  o.head_dim = 32;
  o.vocab = 100;
  o.tie_embeddings = true;
  o.qkv_bias = true;
  o.rope_theta = 500000.0;
  o.rope_scaling = "llama3";
  o.dtype = DType::BF16;
  const ModelSpec s = make_model_spec(o);
  EXPECT_EQ(s.num_layers(), 4);
  EXPECT_EQ(tensor_named(s, "model.layers.1.self_attn.q_proj.weight").shape, (Shape{96, 48}));
  EXPECT_EQ(tensor_named(s, "model.layers.1.self_attn.k_proj.bias").shape, (Shape{32}));
  EXPECT_EQ(tensor_named(s, "model.layers.1.self_attn.o_proj.bias").shape, (Shape{48}));  // llama: attention_bias
  EXPECT_EQ(s.layers.back().tensors.back().name, "model.embed_tokens.weight");
  EXPECT_EQ(s.rope_scaling.type, RopeScaling::Type::Llama3);
  EXPECT_DOUBLE_EQ(s.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(s.rope_theta, 500000.0);
  EXPECT_EQ(s.dtype, DType::BF16);
}

TEST(MakeModelSpec, ModelTypes) {
  MakeModelOptions o = opts(Family::Llama);
  o.model_type = "qwen2";
  const ModelSpec q = make_model_spec(o);
  EXPECT_TRUE(q.qkv_bias);  // Qwen2 always
  EXPECT_FALSE(q.o_bias);
  EXPECT_EQ(q.architecture, "Qwen2ForCausalLM");
  o.model_type = "mistral";
  const ModelSpec m = make_model_spec(o);
  EXPECT_EQ(m.architecture, "MistralForCausalLM");
  EXPECT_FALSE(m.qkv_bias);
  o.rope_scaling = "linear";
  o.rope_factor = 4.0;
  const ModelSpec lin = make_model_spec(o);
  EXPECT_EQ(lin.rope_scaling.type, RopeScaling::Type::Linear);
  EXPECT_DOUBLE_EQ(lin.rope_scaling.factor, 4.0);
}

TEST(MakeModelSpec, RefusesBadOptions) {
  auto with = [](auto edit) {
    MakeModelOptions o = opts(Family::Llama);
    edit(o);
    return [o] { make_model_spec(o); };
  };
  expect_invalid(with([](MakeModelOptions& o) { o.preset = "huge"; }), "--preset");
  expect_invalid(with([](MakeModelOptions& o) { o.hidden = -4; }), "--hidden");
  expect_invalid(with([](MakeModelOptions& o) { o.heads = 5; }), "--heads");
  expect_invalid(with([](MakeModelOptions& o) { o.kv_heads = 3; }), "--kv-heads");
  expect_invalid(with([](MakeModelOptions& o) { o.model_type = "gemma"; }), "--model-type");
  expect_invalid(with([](MakeModelOptions& o) { o.rope_scaling = "yarn"; }), "--rope-scaling");
  expect_invalid(with([](MakeModelOptions& o) { o.rope_factor = 2.0; }), "--rope-factor");
  expect_invalid(with([](MakeModelOptions& o) {
                   o.model_type = "mistral";
                   o.qkv_bias = true;
                 }),
                 "--qkv-bias");
  expect_invalid(with([](MakeModelOptions& o) {
                   o.family = Family::Gpt2;
                   o.kv_heads = 2;
                 }),
                 "--kv-heads");
  expect_invalid(with([](MakeModelOptions& o) {
                   o.family = Family::Mlp;
                   o.hidden = 8;
                 }),
                 "mlp");
}

// ---- seeded weights -------------------------------------------------------------------------

TEST(MakeModelWeights, GeneratorMatchesIndependentImplementation) {
  // Expected values from a Python implementation of the same splitmix64 / xoshiro256** /
  // Box-Muller stream (written separately from the C++), rounded to float32.
  std::vector<float> v(5);
  seeded_normal_fill(0, "model.embed_tokens.weight", 0.0, 1.0, v.data(), v.size());
  EXPECT_EQ(v, (std::vector<float>{-1.30271208f, -1.30617309f, 0.447823882f, 0.355635762f, -0.16041261f}));
  seeded_normal_fill(12345678901ull, "transformer.h.0.ln_1.weight", 1.0, 0.05, v.data(), v.size());
  EXPECT_EQ(v, (std::vector<float>{1.01860249f, 1.01048267f, 0.972510815f, 1.0340246f, 1.10806441f}));
}

TEST(MakeModelWeights, StreamsDependOnSeedAndNameOnly) {
  std::vector<float> a(101), b(101), c(101), prefix(7);
  seeded_normal_fill(7, "x", 0.0, 1.0, a.data(), a.size());
  seeded_normal_fill(7, "x", 0.0, 1.0, b.data(), b.size());
  seeded_normal_fill(7, "x", 0.0, 1.0, prefix.data(), prefix.size());
  EXPECT_EQ(a, b);
  EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), a.begin()));  // odd length: same prefix
  seeded_normal_fill(8, "x", 0.0, 1.0, c.data(), c.size());
  EXPECT_NE(a, c);
  seeded_normal_fill(7, "y", 0.0, 1.0, c.data(), c.size());
  EXPECT_NE(a, c);
}

TEST(MakeModelWeights, SampleMomentsMatchTheDistribution) {
  std::vector<float> v(200000);
  seeded_normal_fill(3, "moments", 0.5, 2.0, v.data(), v.size());
  double sum = 0, sq = 0, fourth = 0;
  for (float x : v) sum += x;
  const double mean = sum / static_cast<double>(v.size());
  for (float x : v) {
    sq += (x - mean) * (x - mean);
    fourth += std::pow((x - mean) / 2.0, 4);
  }
  const double n = static_cast<double>(v.size());
  EXPECT_NEAR(mean, 0.5, 4 * 2.0 / std::sqrt(n));  // 4 standard errors
  EXPECT_NEAR(std::sqrt(sq / n), 2.0, 0.02);
  EXPECT_NEAR(fourth / n, 3.0, 0.1);  // a normal's kurtosis
}

TEST(MakeModelWeights, InitRules) {
  const ModelSpec l = make_model_spec(opts(Family::Llama));  // 4 layers, hidden 64, intermediate 176
  auto init = [&](const ModelSpec& s, const std::string& n) { return make_model_init(s, tensor_named(s, n)); };
  const double depth = std::sqrt(8.0);
  EXPECT_DOUBLE_EQ(init(l, "model.embed_tokens.weight").std, 1.0 / 8.0);
  EXPECT_DOUBLE_EQ(init(l, "lm_head.weight").std, 1.0 / 8.0);
  EXPECT_DOUBLE_EQ(init(l, "model.layers.2.self_attn.k_proj.weight").std, 1.0 / 8.0);
  EXPECT_DOUBLE_EQ(init(l, "model.layers.2.self_attn.o_proj.weight").std, 1.0 / 8.0 * 0.5 / depth);
  EXPECT_DOUBLE_EQ(init(l, "model.layers.2.mlp.up_proj.weight").std, 1.0 / 8.0);
  EXPECT_DOUBLE_EQ(init(l, "model.layers.2.mlp.down_proj.weight").std, 1.0 / std::sqrt(176.0) * 2.0 / depth);
  EXPECT_DOUBLE_EQ(init(l, "model.norm.weight").mean, 1.0);
  EXPECT_DOUBLE_EQ(init(l, "model.norm.weight").std, 0.05);
  const ModelSpec g = make_model_spec(opts(Family::Gpt2));  // Conv1D: fan_in is dim 0
  EXPECT_DOUBLE_EQ(init(g, "transformer.h.0.mlp.c_proj.weight").std, 1.0 / 16.0 * 2.0 / depth);
  EXPECT_DOUBLE_EQ(init(g, "transformer.h.0.attn.c_proj.weight").std, 1.0 / 8.0 * 0.5 / depth);
  EXPECT_DOUBLE_EQ(init(g, "transformer.h.0.attn.c_attn.bias").std, 0.02);
  EXPECT_DOUBLE_EQ(init(g, "transformer.h.0.ln_1.bias").mean, 0.0);
  EXPECT_DOUBLE_EQ(init(g, "transformer.wpe.weight").std, 1.0 / 8.0);
  const ModelSpec m = make_model_spec(opts(Family::Mlp));
  EXPECT_DOUBLE_EQ(init(m, "layers.0.weight").std, 1.0 / 4.0);  // [64, 16]
  EXPECT_DOUBLE_EQ(init(m, "layers.2.weight").mean, 1.0);       // layer_norm
}

// ---- the folder ------------------------------------------------------------------------------

std::vector<uint8_t> tensor_bytes(const Checkpoint& c, const std::string& name) {
  const TensorView v = c.raw(name);
  const auto* p = static_cast<const uint8_t*>(v.data);
  return std::vector<uint8_t>(p, p + v.nbytes());
}

TEST(MakeModelWrite, RoundTripsThroughReaderAndLoader) {
  test::TempDir tmp;
  const std::string out = tmp.file("llama");
  MakeModelOptions o = opts(Family::Llama);
  o.qkv_bias = true;
  o.rope_scaling = "llama3";
  o.seed = 11;
  const ModelSpec spec = make_model_spec(o);
  const MakeModelReport r = make_model_write(spec, o, out);
  EXPECT_EQ(r.files, (std::vector<std::string>{"config.json", "model.safetensors"}));
  EXPECT_EQ(r.params, spec.param_count());
  EXPECT_EQ(r.bytes, static_cast<uint64_t>(spec.param_count()) * 4);

  const ModelSpec back = model_spec_load(out);
  EXPECT_EQ(back.param_count(), spec.param_count());
  EXPECT_EQ(back.rope_scaling.type, RopeScaling::Type::Llama3);
  EXPECT_TRUE(back.o_bias);
  const Checkpoint c = Checkpoint::open(out);
  size_t n = 0;
  for (const auto& l : spec.layers)
    for (const auto& t : l.tensors) {
      const TensorView v = c.raw(t.name);
      ASSERT_EQ(v.shape, t.shape) << t.name;
      ASSERT_EQ(v.dtype, DType::F32);
      const std::vector<float> expect = make_model_tensor(spec, t, 11);
      ASSERT_EQ(std::memcmp(v.data, expect.data(), expect.size() * 4), 0) << t.name;
      ++n;
    }
  EXPECT_EQ(c.tensor_names().size(), n);
}

TEST(MakeModelWrite, SameSeedSameBytesOtherSeedOtherBytes) {
  test::TempDir tmp;
  MakeModelOptions o = opts(Family::Gpt2);
  o.dtype = DType::F16;
  const ModelSpec spec = make_model_spec(o);
  make_model_write(spec, o, tmp.file("a"));
  make_model_write(spec, o, tmp.file("b"));
  o.seed = 1;
  make_model_write(spec, o, tmp.file("c"));
  const std::string a = test::read_text(tmp.file("a/model.safetensors"));
  EXPECT_EQ(a, test::read_text(tmp.file("b/model.safetensors")));
  EXPECT_NE(a, test::read_text(tmp.file("c/model.safetensors")));
  EXPECT_EQ(a.size(), test::read_text(tmp.file("c/model.safetensors")).size());
  EXPECT_EQ(test::read_text(tmp.file("a/config.json")), test::read_text(tmp.file("c/config.json")));
}

TEST(MakeModelWrite, ShardedIndexCoversEveryTensorWithSameValues) {
  test::TempDir tmp;
  MakeModelOptions o = opts(Family::Llama);
  o.tie_embeddings = true;
  o.dtype = DType::BF16;
  const ModelSpec spec = make_model_spec(o);
  make_model_write(spec, o, tmp.file("single"));
  o.shard_size = 60000;  // bytes: a block is ~36 KB in bf16, the embedding 64 KB (a shard of its own)
  const MakeModelReport r = make_model_write(spec, o, tmp.file("sharded"));

  const Json index = Json::parse(test::read_text(tmp.file("sharded/model.safetensors.index.json")));
  const Json& map = index.at("weight_map");
  uint64_t total = 0;
  std::set<std::string> names, files;
  for (const auto& l : spec.layers)
    for (const auto& t : l.tensors)
      if (names.insert(t.name).second) total += static_cast<uint64_t>(t.shape.numel()) * 2;
  EXPECT_EQ(index.at("metadata").at("total_size").get<uint64_t>(), total);
  EXPECT_EQ(r.bytes, total);
  EXPECT_EQ(map.size(), names.size());  // the tied matrix once; no lm_head
  EXPECT_FALSE(map.contains("lm_head.weight"));
  for (const auto& n : names) {
    ASSERT_TRUE(map.contains(n)) << n;
    files.insert(map.at(n).get<std::string>());
  }
  const size_t k = files.size();
  ASSERT_GT(k, 2u);
  EXPECT_EQ(r.files.size(), k + 2);  // + config.json, index
  char expect_name[64];
  for (size_t i = 0; i < k; ++i) {
    std::snprintf(expect_name, sizeof expect_name, "model-%05zu-of-%05zu.safetensors", i + 1, k);
    EXPECT_TRUE(files.count(expect_name)) << expect_name;
    // Each shard stays within the limit unless it holds one tensor larger than it.
    const uint64_t size = std::filesystem::file_size(tmp.file(std::string("sharded/") + expect_name));
    int in_shard = 0;
    for (const auto& [n, f] : map.items()) in_shard += f == expect_name;
    if (in_shard > 1) {
      EXPECT_LE(size, 60000u + 4096u) << expect_name;  // + header
    }
  }
  EXPECT_FALSE(test::file_exists(tmp.file("sharded/model.safetensors")));

  const Checkpoint single = Checkpoint::open(tmp.file("single")), sharded = Checkpoint::open(tmp.file("sharded"));
  EXPECT_TRUE(sharded.sharded());
  for (const auto& n : names) EXPECT_EQ(tensor_bytes(single, n), tensor_bytes(sharded, n)) << n;
  // bf16 is the f32 stream rounded to nearest even.
  const TensorSpec& up = tensor_named(spec, "model.layers.3.mlp.up_proj.weight");
  const std::vector<float> f32 = make_model_tensor(spec, up, 0);
  const std::vector<uint8_t> bytes = tensor_bytes(sharded, up.name);
  for (size_t i = 0; i < f32.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, bytes.data() + 2 * i, 2);
    ASSERT_EQ(h, f32_to_bf16(f32[i])) << i;
  }
}

TEST(MakeModelWrite, ShardSizeAboveModelWritesOneFile) {
  test::TempDir tmp;
  MakeModelOptions o = opts(Family::Mlp);
  o.shard_size = 1u << 30;
  const MakeModelReport r = make_model_write(make_model_spec(o), o, tmp.file("m"));
  EXPECT_EQ(r.files, (std::vector<std::string>{"config.json", "model.safetensors"}));  // as transformers
  EXPECT_EQ(model_spec_load(tmp.file("m")).output_size, 8);
}

size_t entries(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(MakeModelWrite, RefusesNonEmptyOutLeavingItUntouched) {
  test::TempDir tmp;
  const std::string out = tmp.file("out");
  std::filesystem::create_directory(out);
  test::write_text(out + "/keep.txt", "mine");
  const MakeModelOptions o = opts(Family::Mlp);
  expect_invalid([&] { make_model_write(make_model_spec(o), o, out); }, "--force");
  EXPECT_EQ(test::read_text(out + "/keep.txt"), "mine");
  EXPECT_EQ(entries(tmp.path()), 1u);  // no temporary folder left behind
  expect_invalid([&] { make_model_write(make_model_spec(o), o, out + "/keep.txt"); }, "not a directory");
}

TEST(MakeModelWrite, FillsEmptyOutAndForceReplaces) {
  test::TempDir tmp;
  const std::string out = tmp.file("out");
  std::filesystem::create_directory(out);
  MakeModelOptions o = opts(Family::Mlp);
  make_model_write(make_model_spec(o), o, out + "/");
  EXPECT_TRUE(test::file_exists(out + "/model.safetensors"));
  test::write_text(out + "/stale.txt", "old");
  o.force = true;
  make_model_write(make_model_spec(o), o, out);
  EXPECT_FALSE(test::file_exists(out + "/stale.txt"));
  EXPECT_TRUE(test::file_exists(out + "/config.json"));
  EXPECT_EQ(entries(tmp.path()), 1u);
}

}  // namespace
}  // namespace ps
