// Argument checks shared by the CUDA ops, with the CPU ops' wording ("rms_norm: weight has shape
// [7], expected [8]"): a mismatch is a bug in the caller, and the message names the op and the
// tensor. Shape, rank and count checks are backend-neutral and come from kernels/cpu/cpu_check.h.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/cpu/cpu_check.h"
#include "kernels/op_context.h"

namespace ps::cuda {

using cpu::check_count;
using cpu::check_rank;
using cpu::check_shape;
using cpu::views_overlap;

// A tensor on the current CUDA device, of `dtype`, with memory behind it (null only when empty).
// A tensor on another device is an error rather than a peer access: ops run where the caller set
// the device (cudaSetDevice from the plan's "cuda:N").
void check_tensor(const char* op, const char* name, const TensorView& t, DType dtype);

inline cudaStream_t stream_of(const OpContext& ctx) { return static_cast<cudaStream_t>(ctx.stream); }

// 64-bit sizes into the int arguments of a launch or a library call, checked.
int to_int(const char* op, const char* what, int64_t v);

}  // namespace ps::cuda
