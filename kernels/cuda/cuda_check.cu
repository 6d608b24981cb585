#include "kernels/cuda/cuda_check.h"

#include "runtime/core/error.h"

namespace ps {

void cuda_check(cudaError_t err, const char* call, const char* file, int line) {
  if (err == cudaSuccess) return;
  fail_runtime("CUDA call ", call, " failed at ", file, ":", line, ": ", cudaGetErrorName(err), " (",
               cudaGetErrorString(err), ")");
}

}  // namespace ps
