// The argument checks of every op, written once for every backend: kernels/ops.h runs an op's
// check after finding its kernel and before calling it, so a kernel may rely on shapes, ranks,
// per-row counts, index ranges and aliasing being right. Each tensor first passes its backend's
// own rule (Backend::check_tensor: f32 host memory on the CPU, one dtype on the current device on
// CUDA). A failure is a Runtime error naming the op and the argument ("rms_norm: weight has shape
// [7], expected [8]"): model code hands ops their tensors, so a mismatch is a bug in the caller.
// A token id outside the vocabulary is InvalidInput, as ids come from requests.
#pragma once

#include "kernels/common/op_list.h"
#include "kernels/common/op_types.h"

namespace ps::op_check {

// One check per op of op_list.h, with the op's own signature (op_types.h).
PS_OP_LIST(PS_OP_DECLARE)

}  // namespace ps::op_check
