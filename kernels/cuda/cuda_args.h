// What the CUDA ops share on the host: the backend's rule for each tensor (Backend::check_tensor,
// which kernels/common/op_checks.cpp runs before the shape checks, so every op's tensors are
// checked before its kernel runs), the op's stream, and checked narrowing to the int arguments
// of launches and library calls. A failure names the op and the tensor.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/common/op_context.h"
#include "runtime/core/tensor.h"

namespace ps::cuda {

// A tensor on the current CUDA device, of `dtype`, with memory behind it (null only when empty).
// A tensor on another device is an error rather than a peer access: ops run where the caller set
// the device (cudaSetDevice from the plan's "cuda:N").
void check_tensor(const char* op, const char* name, const TensorView& t, DType dtype);

inline cudaStream_t stream_of(const OpContext& ctx) { return static_cast<cudaStream_t>(ctx.stream); }

// 64-bit sizes into the int arguments of a launch or a library call, checked.
int to_int(const char* op, const char* what, int64_t v);

}  // namespace ps::cuda
