// The NCCL entry points this binary was built with: the real table in CUDA builds where NCCL was
// found (target pipeshard_nccl), none otherwise. The one place outside runtime/comm/cuda that
// knows whether NCCL was built, as kernels/backend_registry.cpp is for CUDA.
#pragma once

#include "runtime/comm/nccl_api.h"

namespace ps {

// Null when this build has no NCCL.
const NcclApi* nccl_api_built();

}  // namespace ps
