#include "kernels/cpu/cpu_check.h"

#include <cstdint>

#include "runtime/core/error.h"

namespace ps::cpu {

void check_f32(const char* op, const char* name, const TensorView& t) {
  if (t.dtype != DType::F32)
    fail_runtime(op, ": ", name, " is ", dtype_name(t.dtype), ", the CPU backend computes in f32");
  if (!t.device.is_cpu()) fail_runtime(op, ": ", name, " is on ", t.device.str(), ", expected cpu");
  if (t.data == nullptr && t.numel() != 0) fail_runtime(op, ": ", name, " ", t.shape.str(), " has no data");
}

void check_rank(const char* op, const char* name, const TensorView& t, int rank) {
  if (t.rank() != rank) fail_runtime(op, ": ", name, " has shape ", t.shape.str(), ", expected rank ", rank);
}

void check_shape(const char* op, const char* name, const TensorView& t, const Shape& expected) {
  if (!(t.shape == expected))
    fail_runtime(op, ": ", name, " has shape ", t.shape.str(), ", expected ", expected.str());
}

void check_count(const char* op, const char* name, size_t got, int64_t expected) {
  if (static_cast<int64_t>(got) != expected)
    fail_runtime(op, ": ", name, " has ", got, " entries, expected one per row (", expected, ")");
}

bool views_overlap(const TensorView& a, const TensorView& b) {
  if (!a.data || !b.data) return false;
  const auto a0 = reinterpret_cast<uintptr_t>(a.data), b0 = reinterpret_cast<uintptr_t>(b.data);
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

}  // namespace ps::cpu
