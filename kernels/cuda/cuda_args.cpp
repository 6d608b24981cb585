#include "kernels/cuda/cuda_args.h"

#include <climits>

#include "kernels/cuda/cuda_check.h"
#include "runtime/core/error.h"

namespace ps::cuda {

void check_tensor(const char* op, const char* name, const TensorView& t, DType dtype) {
  if (t.device.kind != DeviceKind::CUDA)
    fail_runtime(op, ": ", name, " is on ", t.device.str(), ", the CUDA backend needs device memory");
  if (t.dtype != dtype)
    fail_runtime(op, ": ", name, " is ", dtype_name(t.dtype), ", expected ", dtype_name(dtype),
                 " (all tensors of one CUDA op share a dtype)");
  if (t.data == nullptr && t.numel() != 0) fail_runtime(op, ": ", name, " ", t.shape.str(), " has no data");
  int current = 0;
  PS_CUDA_CHECK(cudaGetDevice(&current));
  if (t.device.index != current)
    fail_runtime(op, ": ", name, " is on ", t.device.str(), " but the current device is cuda:", current);
}

int to_int(const char* op, const char* what, int64_t v) {
  if (v < 0 || v > INT_MAX) fail_runtime(op, ": ", what, " = ", v, " is outside the int range of the CUDA call");
  return static_cast<int>(v);
}

}  // namespace ps::cuda
