#include "runtime/comm/nccl_registry.h"

namespace ps {

const NcclApi* nccl_api_built() {
#ifdef PIPESHARD_HAVE_NCCL
  return &nccl_api_cuda();
#else
  return nullptr;
#endif
}

}  // namespace ps
