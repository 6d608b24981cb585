// Fixed, valid inputs the fuzz targets check fuzzed files against: a tiny llama and a tiny mlp
// model spec (2 blocks -> 4 layers; 3 layers) and a one-node CPU + two-GPU cluster. Built once
// through the real readers, so a fixture can never drift from what the readers accept.
#pragma once

#include <nlohmann/json.hpp>

#include "partitioner/cluster.h"
#include "runtime/spec/model_spec.h"

namespace ps::fuzz {

inline const ModelSpec& tiny_llama_spec() {
  static const ModelSpec spec = model_spec_from_json(Json::parse(R"({
    "model_type": "llama", "architectures": ["LlamaForCausalLM"], "torch_dtype": "float32",
    "vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "intermediate_size": 32, "max_position_embeddings": 32})"),
                                                     "fixture-config.json");
  return spec;
}

inline const ModelSpec& tiny_mlp_spec() {
  static const ModelSpec spec = model_spec_from_json(Json::parse(R"({
    "model_type": "mlp", "architectures": ["PipeshardMLP"], "input_size": 4,
    "layers": [{"type": "linear", "in_features": 4, "out_features": 8},
               {"type": "activation", "function": "relu"},
               {"type": "linear", "in_features": 8, "out_features": 2}]})"),
                                                     "fixture-config.json");
  return spec;
}

inline const ClusterSpec& tiny_cluster() {
  static const ClusterSpec cluster = cluster_from_json(Json::parse(R"({
    "name": "fixture",
    "nodes": [{"name": "node0",
               "devices": [{"device": "cpu", "model": "cpu", "cores": 2, "memory_gib": 8, "reserved_gib": 1,
                            "peak_tflops": {"f32": 0.1}, "memory_bandwidth_gb_s": 10},
                           {"device": "cuda:0", "model": "gpu", "memory_gib": 16,
                            "peak_tflops": {"f32": 10, "f16": 100, "bf16": 100}, "memory_bandwidth_gb_s": 900},
                           {"device": "cuda:1", "model": "gpu", "memory_gib": 16,
                            "peak_tflops": {"f32": 10, "f16": 100, "bf16": 100}, "memory_bandwidth_gb_s": 900}],
               "link": {"bandwidth_gb_s": 50, "latency_us": 5}}]})"),
                                                   "fixture-cluster.json");
  return cluster;
}

}  // namespace ps::fuzz
