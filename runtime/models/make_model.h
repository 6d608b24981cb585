// make-model: a Hugging Face model folder with seeded random weights, for demos, tests and
// benchmarks without downloading a checkpoint. Two steps: a pure function from options to a
// ModelSpec, and a writer of config.json + safetensors (single file or transformers-style shards).
//
// Weights are reproducible everywhere: each tensor has its own random stream keyed by (seed,
// tensor name), drawn with splitmix64 / xoshiro256** and Box-Muller in double, so values do not
// depend on the platform's <random>, on the shard size, or on the order tensors are written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/spec/model_spec.h"

namespace ps {

struct MakeModelOptions {
  Family family = Family::Llama;
  std::string preset = "tiny";  // tiny | small
  // Overrides of the preset's dims (transformer families only).
  std::optional<int64_t> layers, hidden, heads, kv_heads, intermediate, vocab, max_positions, head_dim;
  bool tie_embeddings = false;  // tie the LM head to the embedding (llama `small` is tied anyway)
  bool qkv_bias = false;        // llama: attention_bias (q, k, v and o_proj, as HF); qwen2 always has it
  std::string model_type;       // llama family: llama (default), mistral, qwen2
  std::optional<double> rope_theta;
  std::string rope_scaling;     // "", "linear", "llama3"
  std::optional<double> rope_factor;  // default: linear 2, llama3 8
  DType dtype = DType::F32;
  uint64_t seed = 0;
  uint64_t shard_size = 0;  // max bytes per safetensors shard; 0 writes one model.safetensors
  bool force = false;       // replace an existing non-empty output directory
};

// The spec the options describe: the preset, then the overrides, checked (bad input names the
// command-line option) and validated by a round trip through config.json.
ModelSpec make_model_spec(const MakeModelOptions& opts);

struct MakeModelReport {
  int64_t params = 0;              // distinct parameters (a tied matrix once)
  uint64_t bytes = 0;              // tensor bytes written (all shards)
  std::vector<std::string> files;  // file names written in the folder, config.json first
};

// Writes config.json and model.safetensors, or, when opts.shard_size is set and the tensors do
// not fit one shard, model-0000k-of-0000n.safetensors + model.safetensors.index.json, as
// transformers' save_pretrained names and fills them (a tensor larger than the shard size gets a
// shard of its own). Tensors are written in the spec's layer order. Everything is written into a
// temporary directory next to `out_dir` and renamed into place at the end, so a failed run leaves
// nothing. An existing non-empty `out_dir` is InvalidInput unless opts.force.
MakeModelReport make_model_write(const ModelSpec& spec, const MakeModelOptions& opts, const std::string& out_dir);

// ---- the weights, exposed for tests ------------------------------------------------------------

// The distribution a tensor's values are drawn from (see make_model.cpp for the reasoning).
struct WeightInit {
  double mean = 0.0;
  double std = 0.0;
};
WeightInit make_model_init(const ModelSpec& spec, const TensorSpec& tensor);

// n values of N(mean, std) from the stream keyed by (seed, key), rounded to f32.
void seeded_normal_fill(uint64_t seed, const std::string& key, double mean, double std, float* out, size_t n);

// A tensor's values in f32 (before conversion to the checkpoint dtype).
std::vector<float> make_model_tensor(const ModelSpec& spec, const TensorSpec& tensor, uint64_t seed);

}  // namespace ps
