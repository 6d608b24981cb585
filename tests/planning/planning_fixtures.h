// Shared by the planning tests: small model specs built from config.json text, the repo's preset
// paths, and a temporary model folder.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "partitioner/cluster.h"
#include "runtime/spec/model_spec.h"
#include "support/test_support.h"

namespace ps::test {

inline std::string repo_path(const std::string& rel) { return std::string(PIPESHARD_SOURCE_DIR) + "/" + rel; }

// A small llama (GQA, untied head) with the given number of blocks.
inline Json tiny_llama_config(int blocks = 4, int hidden = 64, int vocab = 1000) {
  return Json{{"model_type", "llama"},          {"architectures", {"LlamaForCausalLM"}},
              {"hidden_size", hidden},          {"intermediate_size", 2 * hidden},
              {"num_hidden_layers", blocks},    {"num_attention_heads", 4},
              {"num_key_value_heads", 2},       {"vocab_size", vocab},
              {"max_position_embeddings", 512}, {"rms_norm_eps", 1e-5},
              {"rope_theta", 10000.0},          {"tie_word_embeddings", false},
              {"torch_dtype", "float32"},       {"hidden_act", "silu"}};
}

inline ModelSpec spec_from(const Json& config) { return model_spec_from_json(config, "config.json"); }

inline ModelSpec preset_model(const std::string& name) { return model_spec_load(repo_path("configs/models/" + name)); }
inline ClusterSpec preset_cluster(const std::string& name) {
  return cluster_load(repo_path("configs/clusters/" + name + ".json"));
}

// Writes <dir>/<name>/config.json and returns the folder.
inline std::string write_model(const TempDir& dir, const std::string& name, const Json& config) {
  const std::string folder = dir.file(name);
  run_command({"mkdir", "-p", folder});
  write_text(folder + "/config.json", config.dump(2));
  return folder;
}

}  // namespace ps::test
