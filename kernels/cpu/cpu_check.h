// Argument checks shared by the CPU ops. A failure is a Runtime error ("rms_norm: weight has shape
// [7], expected [8]"): model code hands ops their tensors, so a mismatch is a bug in the caller,
// and the message names the op and the tensor to find it fast.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/core/tensor.h"

namespace ps::cpu {

// An f32 host tensor with memory behind it (a null pointer is allowed only when it is empty).
void check_f32(const char* op, const char* name, const TensorView& t);
void check_rank(const char* op, const char* name, const TensorView& t, int rank);
void check_shape(const char* op, const char* name, const TensorView& t, const Shape& expected);
// A span argument with one entry per row.
void check_count(const char* op, const char* name, size_t got, int64_t expected);
// Whether the byte ranges of two views intersect (for ops whose output may not alias an input).
bool views_overlap(const TensorView& a, const TensorView& b);

// Rows per parallel chunk so that a chunk does at least ~16K elements of work: below that, waking
// a thread costs more than it saves.
inline int64_t grain_for(int64_t elems_per_row) {
  constexpr int64_t kMinChunkElems = int64_t{1} << 14;
  return elems_per_row >= kMinChunkElems ? 1 : kMinChunkElems / (elems_per_row > 0 ? elems_per_row : 1);
}

}  // namespace ps::cpu
