// Bad input at the level of the real binary: each test takes a valid tiny model (written by
// `pipeshard make-model`) and valid requests, breaks exactly ONE thing, runs `pipeshard forward`
// or `generate`, and requires what docs/DESIGN.md promises: exit status 2 (never a crash, never 1), a
// message that names the file and the field or tensor, and nothing written -- the output folder
// stays empty (no result file, no temporary left behind) and stdout is silent.
//
// The control tests at the end run the unbroken inputs, so a rejection above cannot come from a
// model or request file that was never valid in the first place.
//
// Broken safetensors files are written byte by byte here (8-byte little-endian header length,
// JSON header, data), independently of the product's own reader and writer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace ps {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::CommandResult;

// ---- safetensors bytes, written by hand ---------------------------------------------------

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

struct SafetensorsFile {
  json header;       // name -> {dtype, shape, data_offsets}, maybe "__metadata__"
  std::string data;  // the data section, byte for byte
};

SafetensorsFile st_load(const std::string& path) {
  const std::string bytes = test::read_text(path);
  if (bytes.size() < 8) throw std::runtime_error(path + ": too short to be the make-model output");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[static_cast<size_t>(i)])) << (8 * i);
  if (n > bytes.size() - 8) throw std::runtime_error(path + ": header length past the end of the make-model output");
  return {json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}

// Writes `declared_len` as the header length, whatever the header text really is.
void st_write_raw(const std::string& path, uint64_t declared_len, const std::string& header, const std::string& data) {
  test::write_text(path, le64(declared_len) + header + data);
}

// A well-formed file around `f.header` (padded with spaces to keep the data 8-aligned, as the
// format's writers do), so that only what the test changed in the header is wrong.
void st_write(const std::string& path, const SafetensorsFile& f) {
  std::string h = f.header.dump();
  while (h.size() % 8 != 0) h += ' ';
  st_write_raw(path, h.size(), h, f.data);
}

// The checkpoint's name for `suffix`, with or without a "model."/"transformer." prefix.
std::string tensor_named(const json& header, const std::string& suffix) {
  for (const auto& [name, v] : header.items())
    if (name == suffix || (name.size() > suffix.size() && name.ends_with("." + suffix))) return name;
  ADD_FAILURE() << "make-model wrote no tensor named like '" << suffix << "'";
  return suffix;
}

uint64_t nbytes(const json& entry) {
  return entry.at("data_offsets").at(1).get<uint64_t>() - entry.at("data_offsets").at(0).get<uint64_t>();
}

// ---- pristine models, made once per test binary run, copied per test ------------------------

struct Pristine {
  bool ok = false;
  std::string dir;  // valid when ok
  std::string why;  // make-model's stderr when not
};

test::TempDir& pristine_root() {
  static test::TempDir root;
  return root;
}

Pristine make_model(const std::string& name, const std::string& family, const std::vector<std::string>& extra) {
  Pristine p;
  p.dir = pristine_root().file(name);
  std::vector<std::string> args = {"make-model", "--family", family, "--preset", "tiny", "--dtype", "f32",
                                   "--seed",     "1",        "--out",  p.dir};
  args.insert(args.end(), extra.begin(), extra.end());
  const CommandResult r = test::run_pipeshard(args);
  p.ok = r.exit_code == 0 && test::file_exists(p.dir + "/config.json");
  p.why = "make-model " + family + " exit " + std::to_string(r.exit_code) + ": " + r.err;
  return p;
}

// "llama", "gpt2", or "llama-sharded" (at least two shards plus model.safetensors.index.json).
const Pristine& pristine(const std::string& kind) {
  static std::map<std::string, Pristine> made;
  const auto it = made.find(kind);
  if (it != made.end()) return it->second;
  Pristine p;
  if (kind == "llama-sharded") {
    // A third of the single file's size: several shards whatever the tiny preset's dims are.
    const Pristine& single = pristine("llama");
    p = single;
    if (single.ok) {
      const auto size = fs::file_size(single.dir + "/model.safetensors");
      p = make_model(kind, "llama", {"--shard-size", std::to_string(size / 3)});
    }
  } else {
    p = make_model(kind, kind, {});
  }
  return made.emplace(kind, p).first->second;
}

// ---- the fixture: one broken thing per test ------------------------------------------------

class BadInput : public ::testing::Test {
 protected:
  test::TempDir tmp;
  std::string model;     // this test's copy of a pristine model, free to break
  std::string requests;  // "requests.jsonl", two valid lines by default
  std::string out_dir;   // must still be empty after a rejected run
  std::string output;    // --output, inside out_dir
  json config;           // model/config.json as make-model wrote it

  void SetUp() override {
    requests = tmp.file("requests.jsonl");
    out_dir = tmp.file("out");
    output = out_dir + "/results.jsonl";
    fs::create_directory(out_dir);
    test::write_text(requests,
                     "{\"id\": \"a\", \"prompt_ids\": [1, 2, 3]}\n"
                     "{\"id\": \"b\", \"prompt_ids\": [4, 5, 6, 7]}\n");
    ASSERT_NO_FATAL_FAILURE(use_model("llama"));
  }

  void use_model(const std::string& kind) {
    const Pristine& p = pristine(kind);
    ASSERT_TRUE(p.ok) << p.why;
    model = tmp.file("model-" + kind);
    fs::remove_all(model);
    fs::copy(p.dir, model, fs::copy_options::recursive);
    config = json::parse(test::read_text(model + "/config.json"));
  }

  int64_t vocab() const { return config.at("vocab_size").get<int64_t>(); }
  int64_t context() const {
    return config.contains("n_positions") ? config.at("n_positions").get<int64_t>()
                                          : config.at("max_position_embeddings").get<int64_t>();
  }

  void write_config(const json& c) { test::write_text(model + "/config.json", c.dump(2)); }
  std::string weights() const { return model + "/model.safetensors"; }
  SafetensorsFile load_weights() const { return st_load(weights()); }

  CommandResult forward(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"forward", "--model", model, "--input", requests, "--output", output, "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_pipeshard(args);
  }
  CommandResult generate(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"generate", "--model",   model, "--input", requests, "--output",
                                     output,     "--threads", "1",   "--max-new-tokens", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_pipeshard(args);
  }

  // The contract for every bad input: handled (no signal), exit 2, "pipeshard <command>: error:",
  // each of `mentions` in the message, nothing written anywhere.
  void expect_rejected(const CommandResult& r, const std::string& command, const std::vector<std::string>& mentions) {
    SCOPED_TRACE("stderr was: " + r.err);
    EXPECT_LT(r.exit_code, 128) << "killed by signal " << r.exit_code - 128 << " (a crash, not an error)";
    EXPECT_EQ(r.exit_code, 2) << "bad input must exit with status 2";
    EXPECT_NE(r.err.find("pipeshard " + command + ": error: "), std::string::npos) << "no error line for " << command;
    for (const auto& m : mentions) EXPECT_NE(r.err.find(m), std::string::npos) << "the message does not name '" << m << "'";
    EXPECT_FALSE(test::file_exists(output)) << "an output file was written";
    EXPECT_TRUE(fs::is_empty(out_dir)) << "something (a temporary?) was left in the output folder";
    EXPECT_EQ(r.out, "") << "a rejected run printed results";
  }
};

// ---- config.json ----------------------------------------------------------------------------

class BadInputConfig : public BadInput {};

TEST_F(BadInputConfig, MissingRequiredKey) {
  config.erase("hidden_size");
  write_config(config);
  expect_rejected(forward(), "forward", {"config.json", "hidden_size"});
}

TEST_F(BadInputConfig, Gpt2MissingRequiredKey) {
  ASSERT_NO_FATAL_FAILURE(use_model("gpt2"));
  config.erase("n_embd");
  write_config(config);
  expect_rejected(forward(), "forward", {"config.json", "n_embd"});
}

TEST_F(BadInputConfig, WrongTypedKey) {
  config["num_attention_heads"] = std::to_string(config.at("num_attention_heads").get<int64_t>());  // "4", not 4
  write_config(config);
  expect_rejected(forward(), "forward", {"config.json", "num_attention_heads", "string"});
}

TEST_F(BadInputConfig, UnknownModelType) {
  config["model_type"] = "falcon";
  write_config(config);
  expect_rejected(forward(), "forward", {"config.json", "model_type", "falcon"});
}

TEST_F(BadInputConfig, UnsupportedRopeScalingType) {
  config["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", context()}};
  write_config(config);
  expect_rejected(forward(), "forward", {"config.json", "rope_scaling", "yarn"});
}

TEST_F(BadInputConfig, MistralSlidingWindowNarrowerThanContext) {
  config["model_type"] = "mistral";
  config["architectures"] = json::array({"MistralForCausalLM"});
  config["sliding_window"] = context() / 2;
  write_config(config);
  expect_rejected(forward(), "forward", {"config.json", "sliding_window"});
}

TEST_F(BadInputConfig, PartialRotaryFactor) {
  config["partial_rotary_factor"] = 0.5;
  write_config(config);
  expect_rejected(forward(), "forward", {"config.json", "partial_rotary_factor"});
}

TEST_F(BadInputConfig, NotJson) {
  const std::string text = test::read_text(model + "/config.json");
  test::write_text(model + "/config.json", text.substr(0, text.size() / 2));  // cut mid-object
  expect_rejected(forward(), "forward", {"config.json", "JSON"});
}

TEST_F(BadInputConfig, Missing) {
  fs::remove(model + "/config.json");
  expect_rejected(forward(), "forward", {"config.json"});
}

// ---- tensors that do not fit the config -------------------------------------------------------

class BadInputTensors : public BadInput {};

TEST_F(BadInputTensors, MissingTensor) {
  SafetensorsFile f = load_weights();
  const std::string gone = tensor_named(f.header, "layers.0.mlp.down_proj.weight");
  f.header.erase(gone);  // its bytes stay behind as an unused gap, which the format allows
  st_write(weights(), f);
  expect_rejected(forward(), "forward", {"model.safetensors", gone});
}

TEST_F(BadInputTensors, MisShapedTensorWithMatchingByteCount) {
  SafetensorsFile f = load_weights();
  const std::string name = tensor_named(f.header, "layers.0.mlp.down_proj.weight");
  json& shape = f.header[name]["shape"];
  ASSERT_EQ(shape.size(), 2u);
  const int64_t a = shape[0].get<int64_t>(), b = shape[1].get<int64_t>();
  ASSERT_TRUE(a != b || b % 2 == 0);
  shape = a != b ? json::array({b, a}) : json::array({a * 2, b / 2});  // same element count, wrong shape
  st_write(weights(), f);
  expect_rejected(forward(), "forward", {"model.safetensors", name, "shape"});
}

// ---- hostile safetensors files ----------------------------------------------------------------

class BadInputSafetensors : public BadInput {};

TEST_F(BadInputSafetensors, HeaderLengthPastEndOfFile) {
  const SafetensorsFile f = load_weights();
  const std::string h = f.header.dump();
  st_write_raw(weights(), 8 + h.size() + f.data.size(), h, f.data);  // the whole file: 8 bytes more than follow it
  expect_rejected(forward(), "forward", {"model.safetensors", "header"});
}

TEST_F(BadInputSafetensors, HeaderLengthAbsurd) {
  const SafetensorsFile f = load_weights();
  st_write_raw(weights(), uint64_t{1} << 62, f.header.dump(), f.data);
  expect_rejected(forward(), "forward", {"model.safetensors", "header"});
}

TEST_F(BadInputSafetensors, DataOffsetsPastDataSection) {
  SafetensorsFile f = load_weights();
  const std::string name = tensor_named(f.header, "norm.weight");
  const uint64_t n = nbytes(f.header[name]), end = f.data.size();
  f.header[name]["data_offsets"] = json::array({end, end + n});  // right size, but beyond the data
  st_write(weights(), f);
  expect_rejected(forward(), "forward", {"model.safetensors", name, "data_offsets"});
}

TEST_F(BadInputSafetensors, OverlappingTensors) {
  SafetensorsFile f = load_weights();
  const std::string a = tensor_named(f.header, "layers.0.input_layernorm.weight");
  const std::string b = tensor_named(f.header, "layers.0.post_attention_layernorm.weight");
  ASSERT_EQ(nbytes(f.header[a]), nbytes(f.header[b]));
  f.header[b]["data_offsets"] = f.header[a]["data_offsets"];  // two tensors on the same bytes
  st_write(weights(), f);
  expect_rejected(forward(), "forward", {"model.safetensors", a, b});
}

TEST_F(BadInputSafetensors, ShapeDoesNotMatchByteCount) {
  SafetensorsFile f = load_weights();
  const std::string name = tensor_named(f.header, "norm.weight");
  json& shape = f.header[name]["shape"];
  ASSERT_EQ(shape.size(), 1u);
  shape[0] = shape[0].get<int64_t>() + 1;  // one F32 more than data_offsets hold
  st_write(weights(), f);
  expect_rejected(forward(), "forward", {"model.safetensors", name});
}

TEST_F(BadInputSafetensors, ShapeProductOverflowsInt64) {
  SafetensorsFile f = load_weights();
  const std::string name = tensor_named(f.header, "norm.weight");
  f.header[name]["shape"] = json::array({int64_t{1} << 40, int64_t{1} << 40});  // 2^80 elements
  st_write(weights(), f);
  expect_rejected(forward(), "forward", {"model.safetensors", name, "shape"});
}

TEST_F(BadInputSafetensors, NegativeDim) {
  SafetensorsFile f = load_weights();
  const std::string name = tensor_named(f.header, "norm.weight");
  f.header[name]["shape"] = json::array({-f.header[name]["shape"][0].get<int64_t>()});
  st_write(weights(), f);
  expect_rejected(forward(), "forward", {"model.safetensors", name, "shape"});
}

TEST_F(BadInputSafetensors, UnsupportedDtypeForNeededTensor) {
  SafetensorsFile f = load_weights();
  const std::string name = tensor_named(f.header, "norm.weight");
  f.header[name]["dtype"] = "I32";  // same 4 bytes per element, so only the dtype is wrong
  st_write(weights(), f);
  expect_rejected(forward(), "forward", {"model.safetensors", name, "I32"});
}

TEST_F(BadInputSafetensors, HeaderNotJson) {
  const SafetensorsFile f = load_weights();
  const std::string h = "{\"not json\": [1, 2,   ";
  st_write_raw(weights(), h.size(), h, f.data);
  expect_rejected(forward(), "forward", {"model.safetensors", "header", "JSON"});
}

TEST_F(BadInputSafetensors, HeaderJsonNotAnObject) {
  const SafetensorsFile f = load_weights();
  const std::string h = "[1, 2, 3]       ";
  st_write_raw(weights(), h.size(), h, f.data);
  expect_rejected(forward(), "forward", {"model.safetensors", "header"});
}

TEST_F(BadInputSafetensors, FileShorterThanHeaderLength) {
  test::write_text(weights(), std::string("\x10\x00\x00\x00", 4));  // half of the 8-byte length
  expect_rejected(forward(), "forward", {"model.safetensors"});
}

// ---- sharded checkpoints ----------------------------------------------------------------------

class BadInputShardIndex : public BadInput {
 protected:
  void SetUp() override {
    BadInput::SetUp();
    ASSERT_NO_FATAL_FAILURE(use_model("llama-sharded"));
    ASSERT_TRUE(test::file_exists(index_path())) << "make-model --shard-size wrote no index";
    ASSERT_FALSE(test::file_exists(weights())) << "a single model.safetensors would win over the index";
    index = json::parse(test::read_text(index_path()));
  }
  std::string index_path() const { return model + "/model.safetensors.index.json"; }
  json index;
};

TEST_F(BadInputShardIndex, NamesMissingShardFile) {
  const json& wm = index.at("weight_map");
  ASSERT_TRUE(wm.is_object() && !wm.empty());
  const std::string shard = wm.begin().value().get<std::string>();
  ASSERT_TRUE(fs::remove(model + "/" + shard));
  expect_rejected(forward(), "forward", {shard, "weight_map"});
}

TEST_F(BadInputShardIndex, WeightMapNotAnObject) {
  index["weight_map"] = json::array({"model-00001-of-00002.safetensors"});
  test::write_text(index_path(), index.dump(2));
  expect_rejected(forward(), "forward", {"model.safetensors.index.json", "weight_map"});
}

// ---- request lines ----------------------------------------------------------------------------

class BadInputRequests : public BadInput {
 protected:
  void set_requests(const std::string& text) { test::write_text(requests, text); }
};

TEST_F(BadInputRequests, TokenIdOutsideVocabulary) {
  // vocab_size itself: the first id past the end (an off-by-one would let it through).
  set_requests("{\"id\": \"a\", \"prompt_ids\": [1, 2]}\n"
               "{\"id\": \"b\", \"prompt_ids\": [4, 5, 6, " + std::to_string(vocab()) + "]}\n");
  expect_rejected(forward(), "forward", {"requests.jsonl", "line 2", "prompt_ids[3]", std::to_string(vocab())});
}

TEST_F(BadInputRequests, NegativeTokenId) {
  set_requests("{\"id\": \"a\", \"prompt_ids\": [-1, 2]}\n");
  expect_rejected(forward(), "forward", {"requests.jsonl", "line 1", "prompt_ids[0]"});
}

TEST_F(BadInputRequests, PromptLongerThanContext) {
  json ids = json::array();
  for (int64_t i = 0; i < context() + 1; ++i) ids.push_back(1 + i % 7);
  set_requests("{\"id\": \"a\", \"prompt_ids\": [1]}\n" + json{{"id", "long"}, {"prompt_ids", ids}}.dump() + "\n");
  expect_rejected(forward(), "forward", {"requests.jsonl", "line 2", "prompt_ids"});
}

TEST_F(BadInputRequests, LineNotJson) {
  set_requests("{\"id\": \"a\", \"prompt_ids\": [1, 2]}\n"
               "{\"id\": \"b\", \"prompt_ids\": [1, 2\n");
  expect_rejected(forward(), "forward", {"requests.jsonl", "line 2"});
}

TEST_F(BadInputRequests, MissingPromptIds) {
  set_requests("{\"id\": \"a\"}\n");
  expect_rejected(forward(), "forward", {"requests.jsonl", "line 1", "prompt_ids"});
}

TEST_F(BadInputRequests, EmptyPromptIds) {
  set_requests("{\"id\": \"a\", \"prompt_ids\": []}\n");
  expect_rejected(forward(), "forward", {"requests.jsonl", "line 1", "prompt_ids"});
}

TEST_F(BadInputRequests, DuplicateId) {
  set_requests("{\"id\": \"a\", \"prompt_ids\": [1, 2]}\n"
               "{\"id\": \"a\", \"prompt_ids\": [3]}\n");
  expect_rejected(forward(), "forward", {"requests.jsonl", "line 2", "id"});
}

TEST_F(BadInputRequests, UnknownKeyWithDidYouMean) {
  set_requests("{\"id\": \"a\", \"prompt_ids\": [1, 2], \"max_new_token\": 3}\n");
  const CommandResult r = generate();
  expect_rejected(r, "generate", {"requests.jsonl", "line 1", "max_new_token", "did you mean"});
  EXPECT_NE(r.err.find("max_new_tokens"), std::string::npos) << "no suggestion of the right key: " << r.err;
}

TEST_F(BadInputRequests, TemperatureWrongType) {
  set_requests("{\"id\": \"a\", \"prompt_ids\": [1, 2], \"temperature\": \"hot\"}\n");
  expect_rejected(generate(), "generate", {"requests.jsonl", "line 1", "temperature"});
}

TEST_F(BadInputRequests, TopPOutOfRange) {
  set_requests("{\"id\": \"a\", \"prompt_ids\": [1, 2], \"temperature\": 0.8, \"top_p\": 1.5}\n");
  expect_rejected(generate(), "generate", {"requests.jsonl", "line 1", "top_p"});
}

// ---- the command line -------------------------------------------------------------------------

class BadInputCommandLine : public BadInput {};

TEST_F(BadInputCommandLine, UnknownOptionSuggestsTheRightOne) {
  expect_rejected(forward({"--top-logprbs", "3"}), "forward", {"--top-logprbs", "did you mean", "--top-logprobs"});
}

TEST_F(BadInputCommandLine, MissingModel) {
  expect_rejected(test::run_pipeshard({"forward", "--input", requests, "--output", output}), "forward", {"--model"});
}

TEST_F(BadInputCommandLine, PromptIdsNotANumber) {
  expect_rejected(test::run_pipeshard({"generate", "--model", model, "--prompt-ids", "1,two,3", "--threads", "1"}),
                  "generate", {"--prompt-ids", "two"});
}

TEST_F(BadInputCommandLine, DeviceThisMachineLacks) {
  // No GPU here (a CUDA build finds none; a CPU build has no CUDA backend): named, exit 2.
  expect_rejected(forward({"--device", "cuda:0"}), "forward", {"--device", "cuda:0"});
  expect_rejected(generate({"--device", "tpu:1"}), "generate", {"--device", "tpu:1"});
}

TEST_F(BadInputCommandLine, HalfPrecisionOnTheCpu) {
  expect_rejected(forward({"--dtype", "bf16"}), "forward", {"--dtype", "bf16", "CPU"});
  expect_rejected(generate({"--dtype", "f8"}), "generate", {"--dtype", "f8"});
}

TEST_F(BadInputCommandLine, StopIdsOutsideVocabulary) {
  const std::string v = std::to_string(vocab());
  expect_rejected(
      test::run_pipeshard({"generate", "--model", model, "--prompt-ids", "1,2", "--stop-ids", "3," + v, "--threads", "1"}),
      "generate", {"--stop-ids", v});
}

// ---- controls: the unbroken inputs are accepted ------------------------------------------------

class BadInputControl : public BadInput {
 protected:
  void expect_ok(const CommandResult& r, size_t lines) {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string text = test::read_text(output);
    EXPECT_EQ(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')), lines) << text;
  }
};

TEST_F(BadInputControl, LlamaForward) { expect_ok(forward(), 2); }

TEST_F(BadInputControl, LlamaGenerate) { expect_ok(generate(), 2); }

TEST_F(BadInputControl, Gpt2Forward) {
  ASSERT_NO_FATAL_FAILURE(use_model("gpt2"));
  expect_ok(forward(), 2);
}

TEST_F(BadInputControl, ShardedForward) {
  ASSERT_NO_FATAL_FAILURE(use_model("llama-sharded"));
  expect_ok(forward(), 2);
}

// The safetensors rewriter itself changes nothing that matters: a round trip still loads.
TEST_F(BadInputControl, RewrittenSafetensorsForward) {
  st_write(weights(), load_weights());
  expect_ok(forward(), 2);
}

// The boundaries of the rejections above: a prompt of exactly the context, the last vocabulary id.
TEST_F(BadInputControl, PromptOfExactlyTheContextAndLastTokenId) {
  json ids = json::array();
  for (int64_t i = 0; i < context(); ++i) ids.push_back(i == 0 ? vocab() - 1 : 1 + i % 7);
  test::write_text(requests, json{{"id", "full"}, {"prompt_ids", ids}}.dump() + "\n");
  expect_ok(forward(), 1);
}

// Mistral whose window covers the whole context computes exactly as full attention: accepted.
TEST_F(BadInputControl, MistralSlidingWindowCoveringContext) {
  config["model_type"] = "mistral";
  config["architectures"] = json::array({"MistralForCausalLM"});
  config["sliding_window"] = context();
  write_config(config);
  expect_ok(forward(), 2);
}

}  // namespace
}  // namespace ps
