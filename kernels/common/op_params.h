// The plain data that ops take besides tensors (op_list.h says which op takes what), shared by
// the dispatcher and both backends, and the sampling random stream every backend reproduces.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/core/tensor.h"

namespace ps::ops {

// How a weight matrix is stored: HF nn.Linear keeps [out, in] (y = x W^T + b); GPT-2's Conv1D
// keeps [in, out] (y = x W + b).
enum class WeightLayout : uint8_t { OutIn, InOut };

// One layer's cache: k and v are [slots, max_ctx, kv_heads, head_dim]. A sequence owns a slot;
// its token at position p lives at [slot, p].
struct KvLayerView {
  TensorView k, v;
};

// Sampling settings of one request (DESIGN.md request line). temperature <= 0 means greedy.
struct SamplingParams {
  float temperature = 0.0f;
  int32_t top_k = 0;     // 0 = off
  float top_p = 1.0f;    // 1 = off
  uint64_t seed = 0;
};
// The random stream is keyed by (seed, request id, position) so a sampled token depends on
// nothing else: not the stage split, the micro-batching, the thread count or the backend.
struct SampleKey {
  uint64_t seed = 0;
  uint64_t request_hash = 0;  // sample_request_hash(id)
  int64_t position = 0;       // position of the token being produced
};
uint64_t sample_request_hash(std::string_view request_id);  // FNV-1a 64 (sampling_key.cpp)
// A uniform double in [0, 1) from the key (splitmix64 over the three parts); the same on every backend.
double sample_uniform(const SampleKey& key);

}  // namespace ps::ops
