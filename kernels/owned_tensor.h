// A tensor that owns its memory on one device, allocated through that device's backend
// (MemoryTable): activations, the KV cache, weights on a GPU. A default-constructed one is an
// empty f32 tensor in host memory, so CPU code uses it as a plain host tensor.
//
// The allocation grows when a reshape needs more and never shrinks; reserve() grows it and
// zero-fills it, which commits the memory up front (see StageModel::reserve).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common/backend.h"
#include "runtime/core/tensor.h"

namespace ps {

class OwnedTensor {
 public:
  OwnedTensor() = default;
  // Host f32 (or `dtype`) tensor of shape `s`.
  explicit OwnedTensor(Shape s, DType dtype = DType::F32);
  // Empty tensor that will live on `device` (its backend allocates), holding `dtype` elements.
  OwnedTensor(Device device, DType dtype);
  ~OwnedTensor();
  OwnedTensor(OwnedTensor&& other) noexcept;
  OwnedTensor& operator=(OwnedTensor&& other) noexcept;
  OwnedTensor(const OwnedTensor&) = delete;
  OwnedTensor& operator=(const OwnedTensor&) = delete;

  // Reuses the allocation when it is big enough; the contents are kept only when it is.
  void reshape(Shape s);
  // Grows the allocation to hold `elements` and zero-fills all of it. The shape is unchanged.
  void reserve(int64_t elements);
  size_t capacity_bytes() const { return capacity_; }
  // Host data (a Runtime error for a tensor on a GPU).
  float* f32() const;

  TensorView view;  // data, dtype, device and the current shape

 private:
  void release() noexcept;
  void grow(size_t bytes);
  size_t capacity_ = 0;
  const Backend* backend_ = nullptr;  // that allocated view.data
};

// `t`'s elements as host f32: t's own data when it already is host f32, else a copy made into
// `staging` (a host tensor; the copy has completed when this returns).
const float* host_f32(const OpContext& ctx, const TensorView& t, OwnedTensor& staging);

}  // namespace ps
