#include "kernels/cpu/cpu_check.h"

#include "runtime/core/error.h"

namespace ps::cpu {

void check_tensor(const char* op, const char* name, const TensorView& t, DType) {
  if (t.dtype != DType::F32)
    fail_runtime(op, ": ", name, " is ", dtype_name(t.dtype), ", the CPU backend computes in f32");
  if (!t.device.is_cpu()) fail_runtime(op, ": ", name, " is on ", t.device.str(), ", expected cpu");
  if (t.data == nullptr && t.numel() != 0) fail_runtime(op, ": ", name, " ", t.shape.str(), " has no data");
}

}  // namespace ps::cpu
