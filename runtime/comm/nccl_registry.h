// The NCCL entry points this binary was built with: the real table in CUDA builds where NCCL was
// found (target pipeshard_nccl), none otherwise. The one place outside runtime/comm/cuda that
// knows whether NCCL was built, as kernels/backend_registry.cpp is for CUDA.
#pragma once

#include "runtime/comm/nccl_api.h"

namespace ps {

// Null when this build has no NCCL.
const NcclApi* nccl_api_built();
// The real table over libnccl and the CUDA runtime (runtime/comm/cuda/nccl_api_cuda.cu): defined
// only in builds with NCCL (target pipeshard_nccl, which depends on this module, not the other way).
const NcclApi& nccl_api_cuda();

}  // namespace ps
