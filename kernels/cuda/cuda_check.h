// Every CUDA runtime call is checked: a function that turns a failure into ps::Error(Runtime)
// naming the call, the error and where it was made, and a thin macro that adds file and line.
// Kernel launches are checked right after the launch (PS_CUDA_LAUNCH_CHECK): a bad launch
// configuration is only reported by cudaGetLastError, and would otherwise surface at some later,
// unrelated call.
#pragma once

#include <cuda_runtime_api.h>

namespace ps {

// Throws ps::Error(Runtime) "CUDA call <call> failed at <file>:<line>: <name> (<description>)"
// unless err is cudaSuccess.
void cuda_check(cudaError_t err, const char* call, const char* file, int line);

}  // namespace ps

#define PS_CUDA_CHECK(call) ::ps::cuda_check((call), #call, __FILE__, __LINE__)
// After `kernel<<<...>>>(...)`: PS_CUDA_LAUNCH_CHECK("rms_norm_kernel").
#define PS_CUDA_LAUNCH_CHECK(kernel_name) \
  ::ps::cuda_check(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
