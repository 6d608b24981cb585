#include "kernels/owned_tensor.h"

#include <utility>

#include "kernels/ops.h"

namespace ps {

OwnedTensor::OwnedTensor(Shape s, DType dtype) {
  view.dtype = dtype;
  reshape(s);
}

OwnedTensor::OwnedTensor(Device device, DType dtype) {
  view.device = device;
  view.dtype = dtype;
  view.shape = Shape{0};
}

OwnedTensor::~OwnedTensor() { release(); }

OwnedTensor::OwnedTensor(OwnedTensor&& other) noexcept
    : view(std::exchange(other.view, TensorView{})),
      capacity_(std::exchange(other.capacity_, 0)),
      backend_(std::exchange(other.backend_, nullptr)) {}

OwnedTensor& OwnedTensor::operator=(OwnedTensor&& other) noexcept {
  if (this != &other) {
    release();
    view = std::exchange(other.view, TensorView{});
    capacity_ = std::exchange(other.capacity_, 0);
    backend_ = std::exchange(other.backend_, nullptr);
  }
  return *this;
}

void OwnedTensor::release() noexcept {
  if (view.data && backend_) backend_->memory.free(view.device.index, view.data);
  view.data = nullptr;
  capacity_ = 0;
}

void OwnedTensor::grow(size_t bytes) {
  if (bytes <= capacity_ && view.data) return;
  const Backend& b = backend_get(view.device);
  // Round to 64 bytes so vector loads never split a cache line and a zero-size tensor still has
  // a non-null address.
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = b.memory.alloc(view.device.index, rounded ? rounded : 64);
  release();
  backend_ = &b;
  view.data = p;
  capacity_ = rounded ? rounded : 64;
}

void OwnedTensor::reshape(Shape s) {
  PS_CHECK(s.numel() >= 0, "reshape to ", s.str());
  grow(static_cast<size_t>(s.numel()) * dtype_size(view.dtype));
  view.shape = s;
}

void OwnedTensor::reserve(int64_t elements) {
  PS_CHECK(elements >= 0, "reserve ", elements);
  grow(static_cast<size_t>(elements) * dtype_size(view.dtype));
  backend_->memory.zero(view.device.index, view.data, capacity_);
}

const float* host_f32(const OpContext& ctx, const TensorView& t, OwnedTensor& staging) {
  if (t.device.is_cpu() && t.dtype == DType::F32) return t.f32();
  PS_CHECK(staging.view.device.is_cpu() && staging.view.dtype == DType::F32, "host_f32: staging is ",
           dtype_name(staging.view.dtype), " on ", staging.view.device.str());
  staging.reshape(t.shape);
  ops::copy(ctx, t, staging.view);
  return staging.f32();
}

float* OwnedTensor::f32() const {
  PS_CHECK(view.device.is_cpu(), "host access to a tensor on ", view.device.str());
  return view.f32();
}

}  // namespace ps
