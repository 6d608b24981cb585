// cuBLAS handles and checked cuBLAS calls. A handle is per host thread and device (cuBLAS is
// not safe to share across threads, and creating one costs a context query and a workspace
// allocation), so each thread gets its own on first use and keeps it; OpContext carries only the
// stream, which is set on the handle before every call.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

namespace ps::cuda {

// Throws ps::Error(Runtime) "cuBLAS call <call> failed at <file>:<line>: <status name>".
void cublas_check(cublasStatus_t status, const char* call, const char* file, int line);

// This thread's handle for the current device, bound to `stream`. Handles are never destroyed:
// destroying one at exit can run after the CUDA runtime has torn down its context.
cublasHandle_t cublas_handle(cudaStream_t stream);

}  // namespace ps::cuda

#define PS_CUBLAS_CHECK(call) ::ps::cuda::cublas_check((call), #call, __FILE__, __LINE__)
