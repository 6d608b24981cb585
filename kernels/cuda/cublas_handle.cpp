#include "kernels/cuda/cublas_handle.h"

#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "runtime/core/error.h"

namespace ps::cuda {

void cublas_check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail_runtime("cuBLAS call ", call, " failed at ", file, ":", line, ": ", cublasGetStatusName(status), " (",
               cublasGetStatusString(status), ")");
}

cublasHandle_t cublas_handle(cudaStream_t stream) {
  thread_local std::vector<cublasHandle_t> handles;  // by device index
  int device = 0;
  PS_CUDA_CHECK(cudaGetDevice(&device));
  if (handles.size() <= static_cast<size_t>(device)) handles.resize(static_cast<size_t>(device) + 1, nullptr);
  cublasHandle_t& h = handles[static_cast<size_t>(device)];
  if (h == nullptr) {
    PS_CUBLAS_CHECK(cublasCreate(&h));
    // Full f32 products: TF32 would cost ~1e-3 relative error where the CPU op is exact to 1e-6.
    PS_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
  }
  PS_CUBLAS_CHECK(cublasSetStream(h, stream));
  return h;
}

}  // namespace ps::cuda
