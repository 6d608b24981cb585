// Helpers for the CUDA op tests: device tensors made from host f32 values (converted to the
// tensor's dtype), read back as f32, and poisoned with NaN so that an element a kernel forgot to
// write fails the comparison. The CUDA runtime is reached only in CUDA builds
// (PIPESHARD_HAVE_CUDA comes with the CUDA backend's target); in a CPU build the tests skip
// before any of this runs.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/common/backend.h"
#include "runtime/core/dtype.h"
#include "runtime/core/error.h"
#include "runtime/core/tensor.h"

#ifdef PIPESHARD_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace ps::test {

// Why the GPU tests cannot run here, or "" when they can.
inline std::string cuda_skip_reason() {
#ifndef PIPESHARD_HAVE_CUDA
  return "built without the CUDA backend (PIPESHARD_CUDA=OFF or no toolkit)";
#else
  for (const Backend* b : backend_list())
    if (b->kind == DeviceKind::CUDA) return b->device_count() > 0 ? "" : "no GPU on this machine";
  return "the CUDA backend is not registered";
#endif
}

inline const Backend* cuda_backend_or_null() {
  for (const Backend* b : backend_list())
    if (b->kind == DeviceKind::CUDA) return b;
  return nullptr;
}

// Storage values of `dtype` for f32 values, and back: what a tensor of that dtype holds.
inline std::vector<uint8_t> encode(const std::vector<float>& v, DType dtype) {
  std::vector<uint8_t> bytes(v.size() * dtype_size(dtype));
  convert_from_f32(dtype, v.data(), bytes.data(), v.size());
  return bytes;
}
inline std::vector<float> decode(const std::vector<uint8_t>& bytes, DType dtype) {
  std::vector<float> v(bytes.size() / dtype_size(dtype));
  convert_to_f32(dtype, bytes.data(), v.data(), v.size());
  return v;
}
// v as the dtype rounds it: the inputs the CPU reference must see.
inline std::vector<float> rounded(const std::vector<float>& v, DType dtype) { return decode(encode(v, dtype), dtype); }

// A device buffer holding one tensor on cuda:0; freed with the object.
class DeviceTensor {
 public:
  DeviceTensor(const std::vector<float>& values, Shape shape, DType dtype) : DeviceTensor(shape, dtype) {
    PS_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "test bug: ", values.size(), " values for ",
             shape.str());
    upload(encode(values, dtype));
  }
  // NaN in every element.
  DeviceTensor(Shape shape, DType dtype) {
    view_.dtype = dtype;
    view_.shape = shape;
    view_.device = Device::cuda(0);
#ifdef PIPESHARD_HAVE_CUDA
    if (view_.nbytes() != 0 && cudaMalloc(&view_.data, view_.nbytes()) != cudaSuccess)
      fail_runtime("test: cudaMalloc of ", view_.nbytes(), " bytes failed");
#endif
    upload(encode(std::vector<float>(static_cast<size_t>(shape.numel()), std::numeric_limits<float>::quiet_NaN()),
                  dtype));
  }
  ~DeviceTensor() {
#ifdef PIPESHARD_HAVE_CUDA
    if (view_.data) cudaFree(view_.data);
#endif
  }
  DeviceTensor(const DeviceTensor&) = delete;
  DeviceTensor& operator=(const DeviceTensor&) = delete;

  const TensorView& view() const { return view_; }
  // The values as f32 (waits for the device).
  std::vector<float> host() const {
    std::vector<uint8_t> bytes(view_.nbytes());
#ifdef PIPESHARD_HAVE_CUDA
    if (!bytes.empty() && cudaMemcpy(bytes.data(), view_.data, bytes.size(), cudaMemcpyDeviceToHost) != cudaSuccess)
      fail_runtime("test: cudaMemcpy to the host failed: ", cudaGetErrorString(cudaGetLastError()));
#endif
    return decode(bytes, view_.dtype);
  }

 private:
  void upload(const std::vector<uint8_t>& bytes) {
#ifdef PIPESHARD_HAVE_CUDA
    if (!bytes.empty() && cudaMemcpy(view_.data, bytes.data(), bytes.size(), cudaMemcpyHostToDevice) != cudaSuccess)
      fail_runtime("test: cudaMemcpy to the device failed");
#else
    (void)bytes;
#endif
  }
  TensorView view_;
};

// Relative L2 error ||got - ref|| / ||ref||; infinite when got holds a NaN (an unwritten element).
inline double rel_l2(const std::vector<float>& got, const std::vector<float>& ref) {
  EXPECT_EQ(got.size(), ref.size());
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < got.size() && i < ref.size(); ++i) {
    if (std::isnan(got[i]) != std::isnan(ref[i])) return std::numeric_limits<double>::infinity();
    if (std::isnan(ref[i])) continue;
    const double d = static_cast<double>(got[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

// The tolerance of the CUDA op tests: f32 computes like the CPU up to rounding; f16/bf16 round
// each output once.
inline double tolerance(DType dtype) { return dtype == DType::F32 ? 1e-5 : 1e-2; }

}  // namespace ps::test
