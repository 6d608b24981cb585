// Rotary-embedding scaling as HF's `rope_scaling` describes it. Plain data shared by the model
// spec (planning) and the RoPE op (kernels), which may not depend on each other.
#pragma once

#include <cstdint>

namespace ps {

struct RopeScaling {
  enum class Type : uint8_t { None, Linear, Llama3 } type = Type::None;
  double factor = 1.0;
  double low_freq_factor = 1.0;                      // llama3
  double high_freq_factor = 4.0;                     // llama3
  int64_t original_max_position_embeddings = 8192;   // llama3
};

}  // namespace ps
