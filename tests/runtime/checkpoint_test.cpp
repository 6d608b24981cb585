// Checkpoint directories (single file, sharded, name prefixes) and weights_load (exactly the
// stage's tensors, validated, zero-copy where possible, only their pages touched).
#include "runtime/weights/checkpoint.h"

#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/core/thread_pool.h"
#include "runtime/weights/safetensors.h"
#include "support/test_support.h"

namespace ps {
namespace {

// Runs f, which must throw ps::Error of `kind`; returns the message after checking it contains
// every needle.
template <class F>
std::string expect_error(ErrorKind kind, std::initializer_list<std::string> needles, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.kind(), kind) << msg;
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
    return msg;
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

std::vector<float> iota_f32(size_t n, float start) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

LayerSpec layer_of(int index, const std::string& name, std::vector<TensorSpec> tensors) {
  LayerSpec l;
  l.kind = LayerKind::Block;
  l.index = index;
  l.name = name;
  l.tensors = std::move(tensors);
  return l;
}

ModelSpec spec_of(std::vector<LayerSpec> layers) {
  ModelSpec s;
  s.config_path = "test/config.json";
  s.layers = std::move(layers);
  return s;
}

std::string u64_le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// ---- Checkpoint: single file, prefixes, dtypes ---------------------------------------------

TEST(Checkpoint, SingleFileRawViewsTheMapping) {
  test::TempDir dir;
  const auto wte = iota_f32(6, 1.0f);
  const auto ln = iota_f32(2, -1.0f);
  safetensors_write(dir.file("model.safetensors"), {{"transformer.wte.weight", DType::F32, Shape{3, 2}, wte.data()},
                                                    {"transformer.h.0.ln_1.weight", DType::F32, Shape{2}, ln.data()}});
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_FALSE(c.sharded());
  EXPECT_EQ(c.dir(), dir.path());
  EXPECT_EQ(c.file_of("transformer.wte.weight"), dir.file("model.safetensors"));
  EXPECT_EQ(c.tensor_names(), (std::vector<std::string>{"transformer.h.0.ln_1.weight", "transformer.wte.weight"}));
  const TensorView v = c.raw("transformer.wte.weight");
  EXPECT_EQ(v.dtype, DType::F32);
  EXPECT_EQ(v.shape, (Shape{3, 2}));
  EXPECT_TRUE(v.device.is_cpu());
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(v.f32()[i], wte[i]);
  EXPECT_EQ(c.raw("transformer.h.0.ln_1.weight").f32()[1], 0.0f);
}

TEST(Checkpoint, PrefixesAreResolvedBothWays) {
  test::TempDir dir;
  const float a = 1, b = 2, h = 3;
  safetensors_write(dir.file("model.safetensors"), {{"h.0.attn.c_attn.weight", DType::F32, Shape{1}, &a},
                                                    {"model.layers.0.mlp.up_proj.weight", DType::F32, Shape{1}, &b},
                                                    {"lm_head.weight", DType::F32, Shape{1}, &h}});
  const Checkpoint c = Checkpoint::open(dir.path());
  // Spec name with the prefix, checkpoint without it; and the other way round.
  ASSERT_NE(c.find("transformer.h.0.attn.c_attn.weight"), nullptr);
  EXPECT_EQ(c.find("transformer.h.0.attn.c_attn.weight")->name, "h.0.attn.c_attn.weight");
  ASSERT_NE(c.find("layers.0.mlp.up_proj.weight"), nullptr);
  EXPECT_EQ(c.find("layers.0.mlp.up_proj.weight")->name, "model.layers.0.mlp.up_proj.weight");
  EXPECT_EQ(c.find("model.lm_head.weight")->name, "lm_head.weight");
  EXPECT_EQ(c.raw("transformer.h.0.attn.c_attn.weight").f32()[0], 1.0f);
  EXPECT_EQ(c.raw("layers.0.mlp.up_proj.weight").f32()[0], 2.0f);
  EXPECT_EQ(c.find("h.1.attn.c_attn.weight"), nullptr);
  EXPECT_EQ(c.find("transformer.h.1.attn.c_attn.weight"), nullptr);
}

TEST(Checkpoint, ExactNameWinsOverAPrefixedOne) {
  test::TempDir dir;
  const float bare = 1, prefixed = 2;
  safetensors_write(dir.file("model.safetensors"), {{"wte.weight", DType::F32, Shape{1}, &bare},
                                                    {"transformer.wte.weight", DType::F32, Shape{1}, &prefixed}});
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_EQ(c.raw("wte.weight").f32()[0], 1.0f);
  EXPECT_EQ(c.raw("transformer.wte.weight").f32()[0], 2.0f);
}

TEST(Checkpoint, MissingTensorNamesDirAndTensor) {
  test::TempDir dir;
  const float a = 1;
  safetensors_write(dir.file("model.safetensors"), {{"h.0.ln_1.weight", DType::F32, Shape{1}, &a}});
  const Checkpoint c = Checkpoint::open(dir.path());
  expect_error(ErrorKind::InvalidInput, {dir.path(), "'h.0.ln_2.weight'", "did you mean 'h.0.ln_1.weight'"},
               [&] { c.raw("h.0.ln_2.weight"); });
  EXPECT_EQ(c.file_of("h.0.ln_2.weight"), dir.file("model.safetensors"));
}

TEST(Checkpoint, UnsupportedDtypeOpensButIsNotLoadable) {
  test::TempDir dir;
  const std::string header = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                             R"( "position_ids": {"dtype": "I64", "shape": [2], "data_offsets": [4, 20]}})";
  // (The header length leaves the data unaligned: only shapes are checked through raw() here.)
  test::write_text(dir.file("model.safetensors"), u64_le(header.size()) + header + std::string(20, '\0'));
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_EQ(c.raw("w").shape, (Shape{1}));
  expect_error(ErrorKind::InvalidInput, {dir.file("model.safetensors"), "'position_ids'", "I64"},
               [&] { c.raw("position_ids"); });
}

TEST(Checkpoint, HostileFileIsNamed) {
  test::TempDir dir;
  test::write_text(dir.file("model.safetensors"), u64_le(1 << 20) + "{}");
  expect_error(ErrorKind::InvalidInput, {dir.file("model.safetensors"), "past the end of the file"},
               [&] { Checkpoint::open(dir.path()); });
}

TEST(Checkpoint, DirectoryWithoutWeights) {
  test::TempDir dir;
  test::write_text(dir.file("config.json"), "{}");
  expect_error(ErrorKind::InvalidInput, {dir.path(), "model.safetensors", "model.safetensors.index.json"},
               [&] { Checkpoint::open(dir.path()); });
  expect_error(ErrorKind::InvalidInput, {dir.file("nowhere"), "does not exist"},
               [&] { Checkpoint::open(dir.file("nowhere")); });
  expect_error(ErrorKind::InvalidInput, {dir.file("config.json"), "not a directory"},
               [&] { Checkpoint::open(dir.file("config.json")); });
}

// ---- sharded checkpoints -------------------------------------------------------------------

struct ShardedFixture {
  test::TempDir dir;
  std::vector<float> wte = iota_f32(8, 0.5f), h0 = iota_f32(4, 10.0f), h1 = iota_f32(4, 20.0f), lnf = iota_f32(2, 30.0f);

  ShardedFixture() {
    safetensors_write(dir.file("model-00001-of-00002.safetensors"),
                      {{"transformer.wte.weight", DType::F32, Shape{4, 2}, wte.data()},
                       {"transformer.h.0.w", DType::F32, Shape{2, 2}, h0.data()}});
    safetensors_write(dir.file("model-00002-of-00002.safetensors"),
                      {{"transformer.h.1.w", DType::F32, Shape{2, 2}, h1.data()},
                       {"transformer.ln_f.weight", DType::F32, Shape{2}, lnf.data()}});
    write_index(R"({"metadata": {"total_size": 72}, "weight_map": {
        "transformer.wte.weight": "model-00001-of-00002.safetensors",
        "transformer.h.0.w": "model-00001-of-00002.safetensors",
        "transformer.h.1.w": "model-00002-of-00002.safetensors",
        "transformer.ln_f.weight": "model-00002-of-00002.safetensors"}})");
  }
  std::string index() const { return dir.file("model.safetensors.index.json"); }
  void write_index(const std::string& text) const { test::write_text(index(), text); }
};

TEST(CheckpointSharded, ResolvesEachTensorToItsShard) {
  ShardedFixture f;
  const Checkpoint c = Checkpoint::open(f.dir.path());
  EXPECT_TRUE(c.sharded());
  EXPECT_EQ(c.file_of("transformer.h.0.w"), f.dir.file("model-00001-of-00002.safetensors"));
  EXPECT_EQ(c.file_of("h.1.w"), f.dir.file("model-00002-of-00002.safetensors"));
  EXPECT_EQ(c.tensor_names().size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(c.raw("h.0.w").f32()[i], f.h0[i]);
    EXPECT_EQ(c.raw("transformer.h.1.w").f32()[i], f.h1[i]);
  }
  EXPECT_EQ(c.raw("ln_f.weight").f32()[1], 31.0f);

  // A stage spanning both shards.
  const ModelSpec spec = spec_of({layer_of(0, "embedding", {{"transformer.wte.weight", Shape{4, 2}}}),
                                  layer_of(1, "block.0", {{"transformer.h.0.w", Shape{2, 2}}}),
                                  layer_of(2, "block.1", {{"transformer.h.1.w", Shape{2, 2}}}),
                                  layer_of(3, "head", {{"transformer.ln_f.weight", Shape{2}}})});
  const StageWeights w = weights_load(c, spec, 1, 2);
  ASSERT_EQ(w.tensors.size(), 2u);
  EXPECT_EQ(w.get("transformer.h.0.w").f32()[3], 13.0f);
  EXPECT_EQ(w.get("transformer.h.1.w").f32()[3], 23.0f);
  EXPECT_EQ(w.bytes, 32u);
}

TEST(CheckpointSharded, SingleFileWinsOverIndex) {
  ShardedFixture f;
  const float x = 7;
  safetensors_write(f.dir.file("model.safetensors"), {{"x", DType::F32, Shape{1}, &x}});
  const Checkpoint c = Checkpoint::open(f.dir.path());
  EXPECT_FALSE(c.sharded());
  EXPECT_EQ(c.raw("x").f32()[0], 7.0f);
}

TEST(CheckpointShardedHostile, IndexNotJson) {
  ShardedFixture f;
  f.write_index(R"({"weight_map": {)");
  expect_error(ErrorKind::InvalidInput, {f.index(), "not valid JSON"}, [&] { Checkpoint::open(f.dir.path()); });
}

TEST(CheckpointShardedHostile, IndexNotObject) {
  ShardedFixture f;
  f.write_index(R"(["model-00001-of-00002.safetensors"])");
  expect_error(ErrorKind::InvalidInput, {f.index(), "JSON array", "weight_map"}, [&] { Checkpoint::open(f.dir.path()); });
}

TEST(CheckpointShardedHostile, MissingWeightMap) {
  ShardedFixture f;
  f.write_index(R"({"metadata": {}})");
  expect_error(ErrorKind::InvalidInput, {f.index(), "missing 'weight_map'"}, [&] { Checkpoint::open(f.dir.path()); });
}

TEST(CheckpointShardedHostile, WeightMapNotObject) {
  ShardedFixture f;
  f.write_index(R"({"weight_map": ["a"]})");
  expect_error(ErrorKind::InvalidInput, {f.index(), "weight_map is a JSON array"}, [&] { Checkpoint::open(f.dir.path()); });
}

TEST(CheckpointShardedHostile, FileNameNotString) {
  ShardedFixture f;
  f.write_index(R"({"weight_map": {"transformer.h.0.w": 1}})");
  expect_error(ErrorKind::InvalidInput, {f.index(), "weight_map.transformer.h.0.w", "JSON integer"},
               [&] { Checkpoint::open(f.dir.path()); });
}

TEST(CheckpointShardedHostile, ShardFileMissing) {
  ShardedFixture f;
  f.write_index(R"({"weight_map": {"transformer.h.0.w": "model-00003-of-00002.safetensors"}})");
  expect_error(ErrorKind::InvalidInput,
               {f.index(), "weight_map.transformer.h.0.w", "model-00003-of-00002.safetensors", "cannot open"},
               [&] { Checkpoint::open(f.dir.path()); });
}

TEST(CheckpointShardedHostile, ShardPathOutsideDirectory) {
  ShardedFixture f;
  f.write_index(R"({"weight_map": {"transformer.h.0.w": "../model-00001-of-00002.safetensors"}})");
  expect_error(ErrorKind::InvalidInput, {f.index(), "weight_map.transformer.h.0.w", "not a file name"},
               [&] { Checkpoint::open(f.dir.path()); });
}

TEST(CheckpointShardedHostile, TensorNotInItsShard) {
  ShardedFixture f;
  f.write_index(R"({"weight_map": {"transformer.h.1.w": "model-00001-of-00002.safetensors"}})");
  expect_error(ErrorKind::InvalidInput,
               {f.index(), "weight_map.transformer.h.1.w", "not in", "model-00001-of-00002.safetensors"},
               [&] { Checkpoint::open(f.dir.path()); });
}

TEST(CheckpointShardedHostile, HostileShardIsNamed) {
  ShardedFixture f;
  test::write_text(f.dir.file("model-00002-of-00002.safetensors"), "junk");
  expect_error(ErrorKind::InvalidInput, {f.index(), "model-00002-of-00002.safetensors", "too short"},
               [&] { Checkpoint::open(f.dir.path()); });
}

// ---- weights_load --------------------------------------------------------------------------

TEST(WeightsLoad, LoadsExactlyTheRangeAsZeroCopyViews) {
  test::TempDir dir;
  const auto a = iota_f32(6, 0), b = iota_f32(6, 100), c = iota_f32(6, 200);
  safetensors_write(dir.file("model.safetensors"), {{"l0.w", DType::F32, Shape{2, 3}, a.data()},
                                                    {"l1.w", DType::F32, Shape{2, 3}, b.data()},
                                                    {"l2.w", DType::F32, Shape{2, 3}, c.data()}});
  const Checkpoint ck = Checkpoint::open(dir.path());
  const ModelSpec spec = spec_of({layer_of(0, "l0", {{"l0.w", Shape{2, 3}}}), layer_of(1, "l1", {{"l1.w", Shape{2, 3}}}),
                                  layer_of(2, "l2", {{"l2.w", Shape{2, 3}}})});
  const StageWeights w = weights_load(ck, spec, 1, 1);
  ASSERT_EQ(w.tensors.size(), 1u);
  const TensorView& v = w.get("l1.w");
  EXPECT_EQ(v.data, ck.raw("l1.w").data) << "aligned f32 must be a view into the mapping";
  EXPECT_TRUE(w.owned.empty());
  EXPECT_EQ(v.shape, (Shape{2, 3}));
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(v.f32()[i], b[i]);
  EXPECT_EQ(w.bytes, 24u);
  expect_error(ErrorKind::Runtime, {"'l0.w'"}, [&] { w.get("l0.w"); });
}

// Hand-computed f16/bf16 values, including subnormals, infinities and signed zero.
TEST(WeightsLoad, F16IsConvertedExactly) {
  test::TempDir dir;
  const std::vector<uint16_t> bits = {0x3C00, 0xC000, 0x3555, 0x0001, 0x7BFF, 0x8000, 0x7C00, 0x03FF};
  const std::vector<float> want = {1.0f, -2.0f, 0.333251953125f, std::ldexp(1.0f, -24), 65504.0f, -0.0f,
                                   INFINITY, std::ldexp(1023.0f, -24)};
  safetensors_write(dir.file("model.safetensors"), {{"w", DType::F16, Shape{2, 4}, bits.data()}});
  const Checkpoint ck = Checkpoint::open(dir.path());
  const StageWeights w = weights_load(ck, spec_of({layer_of(0, "l0", {{"w", Shape{2, 4}}})}), 0, 0);
  const TensorView& v = w.get("w");
  EXPECT_EQ(v.dtype, DType::F32);
  EXPECT_EQ(w.owned.size(), 1u);
  EXPECT_EQ(w.bytes, 32u);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(v.f32()[i], want[i]) << i;
    EXPECT_EQ(std::signbit(v.f32()[i]), std::signbit(want[i])) << i;
  }
}

TEST(WeightsLoad, BF16IsConvertedExactly) {
  test::TempDir dir;
  const std::vector<uint16_t> bits = {0x3F80, 0xC040, 0x3EAB, 0x0001, 0x7F7F, 0xFF80};
  const std::vector<float> want = {1.0f, -3.0f, 0.333984375f, std::ldexp(1.0f, -133), std::ldexp(255.0f, 120), -INFINITY};
  safetensors_write(dir.file("model.safetensors"), {{"w", DType::BF16, Shape{6}, bits.data()}});
  const Checkpoint ck = Checkpoint::open(dir.path());
  const StageWeights w = weights_load(ck, spec_of({layer_of(0, "l0", {{"w", Shape{6}}})}), 0, 0);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(w.get("w").f32()[i], want[i]) << i;
}

// A conversion split across a thread pool: bf16 -> f32 is a 16-bit shift, so every output's bits
// are checked against the input's, NaNs and all.
TEST(WeightsLoad, LargeConversionOnAPoolIsExact) {
  test::TempDir dir;
  constexpr size_t kN = 300001;  // several grains, and an odd tail
  std::vector<uint16_t> bits(kN);
  for (size_t i = 0; i < kN; ++i) bits[i] = static_cast<uint16_t>((i * 2654435761u) >> 13);
  safetensors_write(dir.file("model.safetensors"), {{"w", DType::BF16, Shape{static_cast<int64_t>(kN)}, bits.data()}});
  const Checkpoint ck = Checkpoint::open(dir.path());
  ThreadPool pool(2);
  const StageWeights w =
      weights_load(ck, spec_of({layer_of(0, "l0", {{"w", Shape{static_cast<int64_t>(kN)}}})}), 0, 0, &pool);
  const float* p = w.get("w").f32();
  size_t wrong = 0;
  for (size_t i = 0; i < kN; ++i) {
    uint32_t got;
    std::memcpy(&got, &p[i], 4);
    wrong += got != (static_cast<uint32_t>(bits[i]) << 16);
  }
  EXPECT_EQ(wrong, 0u);
}

TEST(WeightsLoad, MisalignedTensorsAreCopied) {
  // safetensors does not promise alignment: a header of the right length puts the data section
  // at an odd offset, so both the f32 tensor and the f16 one after it sit at odd addresses.
  test::TempDir dir;
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F16","shape":[1],"data_offsets":[8,10]}})";
  while ((8 + header.size()) % 4 != 1) header += ' ';
  std::string bytes = u64_le(header.size()) + header;
  const float a[2] = {1.25f, -8.5f};
  const uint16_t b = 0xC000;
  bytes.append(reinterpret_cast<const char*>(a), 8);
  bytes.append(reinterpret_cast<const char*>(&b), 2);
  test::write_text(dir.file("model.safetensors"), bytes);
  const Checkpoint ck = Checkpoint::open(dir.path());
  const StageWeights w = weights_load(ck, spec_of({layer_of(0, "l0", {{"a", Shape{2}}, {"b", Shape{1}}})}), 0, 0);
  EXPECT_EQ(w.owned.size(), 2u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.get("a").data) % alignof(float), 0u);
  EXPECT_EQ(w.get("a").f32()[0], 1.25f);
  EXPECT_EQ(w.get("a").f32()[1], -8.5f);
  EXPECT_EQ(w.get("b").f32()[0], -2.0f);
}

TEST(WeightsLoad, TiedTensorIsLoadedOnce) {
  test::TempDir dir;
  const auto wte = iota_f32(8, 1), ln = iota_f32(2, 0);
  safetensors_write(dir.file("model.safetensors"), {{"model.embed_tokens.weight", DType::F32, Shape{4, 2}, wte.data()},
                                                    {"model.norm.weight", DType::F32, Shape{2}, ln.data()}});
  const Checkpoint ck = Checkpoint::open(dir.path());
  const ModelSpec spec = spec_of({layer_of(0, "embedding", {{"model.embed_tokens.weight", Shape{4, 2}}}),
                                  layer_of(1, "head", {{"model.norm.weight", Shape{2}}, {"model.embed_tokens.weight", Shape{4, 2}}})});
  const StageWeights w = weights_load(ck, spec, 0, 1);
  EXPECT_EQ(w.tensors.size(), 2u);
  EXPECT_EQ(w.bytes, 40u);
  EXPECT_EQ(w.get("model.embed_tokens.weight").f32()[7], 8.0f);
}

TEST(WeightsLoad, ShapeMismatchNamesFileTensorAndBothShapes) {
  test::TempDir dir;
  const auto a = iota_f32(6, 0);
  safetensors_write(dir.file("model.safetensors"), {{"h.0.attn.c_attn.weight", DType::F32, Shape{3, 2}, a.data()}});
  const Checkpoint ck = Checkpoint::open(dir.path());
  const ModelSpec spec = spec_of({layer_of(0, "block.0", {{"transformer.h.0.attn.c_attn.weight", Shape{2, 3}}})});
  expect_error(ErrorKind::InvalidInput,
               {dir.file("model.safetensors"), "'h.0.attn.c_attn.weight'", "shape [3, 2]", "expected [2, 3]",
                "test/config.json", "block.0"},
               [&] { weights_load(ck, spec, 0, 0); });
}

TEST(WeightsLoad, MissingTensorNamesDirTensorAndLayer) {
  test::TempDir dir;
  const float x = 1;
  safetensors_write(dir.file("model.safetensors"), {{"h.0.ln_1.weight", DType::F32, Shape{1}, &x}});
  const Checkpoint ck = Checkpoint::open(dir.path());
  const ModelSpec spec =
      spec_of({layer_of(0, "block.0", {{"transformer.h.0.ln_1.weight", Shape{1}}, {"transformer.h.0.ln_1.bias", Shape{1}}})});
  expect_error(ErrorKind::InvalidInput, {dir.path(), "'transformer.h.0.ln_1.bias'", "block.0"},
               [&] { weights_load(ck, spec, 0, 0); });
}

TEST(WeightsLoad, LayerRangeOutsideTheModel) {
  test::TempDir dir;
  const float x = 1;
  safetensors_write(dir.file("model.safetensors"), {{"w", DType::F32, Shape{1}, &x}});
  const Checkpoint ck = Checkpoint::open(dir.path());
  const ModelSpec spec = spec_of({layer_of(0, "l0", {{"w", Shape{1}}}), layer_of(1, "l1", {})});
  for (const auto& range : std::vector<std::pair<int, int>>{{-1, 0}, {1, 0}, {0, 2}})
    expect_error(ErrorKind::InvalidInput, {dir.path(), "2 layers"},
                 [&] { weights_load(ck, spec, range.first, range.second); });
}

// ---- issue 2: a quarter of the layers maps about a quarter of the bytes --------------------

// Sum of the Rss of every mapping of `path` in this process, from /proc/self/smaps, in bytes.
uint64_t mapped_rss_bytes(const std::string& path) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_file = false;
  uint64_t rss_kb = 0;
  while (std::getline(smaps, line)) {
    std::istringstream is(line);
    std::string first;
    is >> first;
    if (!first.empty() && first.back() == ':') {  // a field of the current mapping
      if (in_file && first == "Rss:") {
        uint64_t kb = 0;
        is >> kb;
        rss_kb += kb;
      }
      continue;
    }
    // A mapping header: "start-end perms offset dev inode [path]".
    std::string perms, offset, dev, inode, name;
    is >> perms >> offset >> dev >> inode;
    std::getline(is >> std::ws, name);
    in_file = name == path;
  }
  return rss_kb * 1024;
}

TEST(WeightsLoad, QuarterOfTheLayersMapsAboutAQuarterOfTheFile) {
  test::TempDir dir;
  constexpr int kLayers = 8;
  constexpr size_t kElems = size_t{2} << 20;  // 8 MiB of f32 per layer, 64 MiB in all
  // Element i of layer l is l * 16 + i % 16: exact in f32, and the sum is exact in double.
  auto value = [](int l, size_t i) { return static_cast<float>(l * 16 + static_cast<int>(i % 16)); };
  {
    std::vector<std::vector<float>> data(kLayers, std::vector<float>(kElems));
    std::vector<SafetensorsTensorOut> out;
    for (int l = 0; l < kLayers; ++l) {
      for (size_t i = 0; i < kElems; ++i) data[static_cast<size_t>(l)][i] = value(l, i);
      out.push_back({"layers." + std::to_string(l) + ".w", DType::F32, Shape{2048, 1024}, data[static_cast<size_t>(l)].data()});
    }
    safetensors_write(dir.file("model.safetensors"), out);
  }
  std::vector<LayerSpec> layers;
  for (int l = 0; l < kLayers; ++l)
    layers.push_back(layer_of(l, "block." + std::to_string(l), {{"layers." + std::to_string(l) + ".w", Shape{2048, 1024}}}));
  const ModelSpec spec = spec_of(std::move(layers));

  char real[PATH_MAX];
  ASSERT_NE(realpath(dir.file("model.safetensors").c_str(), real), nullptr);
  const Checkpoint ck = Checkpoint::open(dir.path());
  const StageWeights w = weights_load(ck, spec, 2, 3);
  ASSERT_EQ(w.tensors.size(), 2u);
  EXPECT_TRUE(w.owned.empty());

  double sum = 0, want = 0;
  for (const auto& [name, v] : w.tensors) {
    const float* p = v.f32();
    for (int64_t i = 0; i < v.numel(); ++i) sum += p[i];
  }
  for (int l = 2; l <= 3; ++l)
    for (size_t i = 0; i < kElems; ++i) want += l * 16 + static_cast<double>(i % 16);
  EXPECT_EQ(sum, want);

  const uint64_t file_size = static_cast<uint64_t>(kLayers) * kElems * 4;
  const uint64_t rss = mapped_rss_bytes(real);
  EXPECT_GT(rss, 0u) << "the checkpoint mapping was not found in /proc/self/smaps";
  EXPECT_LE(static_cast<double>(rss), 0.30 * static_cast<double>(file_size))
      << "Rss " << rss << " of a " << file_size << "-byte file";
}

}  // namespace
}  // namespace ps
