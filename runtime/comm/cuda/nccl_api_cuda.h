// The NcclApi table (runtime/comm/nccl_api.h) over libnccl and the CUDA runtime. Defined only in
// CUDA builds where NCCL was found (target pipeshard_nccl):
//   nccl_transport_create(store, nccl_api_cuda(), options)
#pragma once

#include "runtime/comm/nccl_api.h"

namespace ps {

const NcclApi& nccl_api_cuda();

}  // namespace ps
