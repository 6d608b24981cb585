// Tensor views that know their dtype and device, and a host buffer that owns memory
// (kernels/owned_tensor.h has the tensor that owns memory on any device).
// A view never owns: weights are views into a memory-mapped checkpoint or into a Buffer.
// Row-major, contiguous; shape has up to 4 dimensions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

#include "runtime/core/device.h"
#include "runtime/core/dtype.h"
#include "runtime/core/error.h"

namespace ps {

constexpr int kMaxDims = 4;

struct Shape {
  std::array<int64_t, kMaxDims> d{};
  int rank = 0;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  static Shape of(const std::vector<int64_t>& dims);
  int64_t operator[](int i) const { return d[static_cast<size_t>(i)]; }
  int64_t numel() const;
  std::string str() const;  // "[2, 768]"
  friend bool operator==(const Shape& a, const Shape& b);
};

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::F32;
  Device device{};
  Shape shape{};

  int64_t numel() const { return shape.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int64_t dim(int i) const { return shape[i]; }
  int rank() const { return shape.rank; }
  bool empty() const { return data == nullptr; }

  // Typed access with a dtype check (a wrong dtype is a programming error, not user input).
  template <class T>
  T* as() const {
    PS_CHECK(dtype_matches<T>(), "tensor dtype is ", dtype_name(dtype));
    return static_cast<T*>(data);
  }
  float* f32() const { return as<float>(); }

  // Row view: rows [r0, r0+n) of the leading dimension.
  TensorView rows(int64_t r0, int64_t n) const;
  // Same memory, another shape with the same number of elements.
  TensorView reshape(Shape s) const;

 private:
  template <class T>
  bool dtype_matches() const {
    if constexpr (std::is_same_v<T, float>) return dtype == DType::F32;
    else if constexpr (std::is_same_v<T, uint16_t>) return dtype == DType::F16 || dtype == DType::BF16;
    else return false;
  }
};

// Host memory owned by one object; 64-byte aligned so SIMD loads never split cache lines.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t bytes);
  Buffer(Buffer&&) noexcept = default;
  Buffer& operator=(Buffer&&) noexcept = default;

  void* data() const { return ptr_.get(); }
  size_t size() const { return size_; }
  void resize(size_t bytes);  // discards contents when it grows

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> ptr_;
  size_t size_ = 0;
};

}  // namespace ps
