// The CPU backend's rule for each tensor of an op (Backend::check_tensor; op_checks.cpp runs it
// before the shape checks): an f32 host tensor with memory behind it. copy, which converts between
// dtypes, checks its two sides itself (copy.cpp).
#pragma once

#include "runtime/core/tensor.h"

namespace ps::cpu {

// A Runtime error naming the op and tensor unless t is f32, on the cpu, and has data (a null
// pointer is allowed only when it is empty). `dtype` (the call's first tensor's) is not needed:
// every tensor must be f32.
void check_tensor(const char* op, const char* name, const TensorView& t, DType dtype);

}  // namespace ps::cpu
