// The constructors of each family's stage (one file per family); stage_model_load picks one.
#pragma once

#include <memory>

#include "runtime/models/stage_model.h"

namespace ps {

std::unique_ptr<StageModel> gpt2_stage_create(const ModelSpec& spec, StageWeights weights, int first, int last,
                                              const StageOptions& options);
std::unique_ptr<StageModel> llama_stage_create(const ModelSpec& spec, StageWeights weights, int first, int last,
                                               const StageOptions& options);
std::unique_ptr<StageModel> mlp_stage_create(const ModelSpec& spec, StageWeights weights, int first, int last,
                                             const StageOptions& options);

}  // namespace ps
