#include "runtime/core/tensor.h"

#include <cstdlib>
#include <new>
#include <sstream>

namespace ps {

Shape::Shape(std::initializer_list<int64_t> dims) {
  PS_CHECK(dims.size() <= kMaxDims);
  for (int64_t v : dims) d[static_cast<size_t>(rank++)] = v;
}

Shape Shape::of(const std::vector<int64_t>& dims) {
  PS_CHECK(dims.size() <= kMaxDims, "rank ", dims.size());
  Shape s;
  for (int64_t v : dims) s.d[static_cast<size_t>(s.rank++)] = v;
  return s;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= d[static_cast<size_t>(i)];
  return n;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << '[';
  for (int i = 0; i < rank; ++i) os << (i ? ", " : "") << d[static_cast<size_t>(i)];
  os << ']';
  return os.str();
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; ++i)
    if (a.d[static_cast<size_t>(i)] != b.d[static_cast<size_t>(i)]) return false;
  return true;
}

TensorView TensorView::rows(int64_t r0, int64_t n) const {
  PS_CHECK(shape.rank >= 1 && r0 >= 0 && r0 + n <= shape[0], "rows ", r0, "+", n, " of ", shape.str());
  TensorView v = *this;
  const int64_t row_elems = shape[0] ? numel() / shape[0] : 0;
  v.data = static_cast<char*>(data) + static_cast<size_t>(r0 * row_elems) * dtype_size(dtype);
  v.shape.d[0] = n;
  return v;
}

TensorView TensorView::reshape(Shape s) const {
  PS_CHECK(s.numel() == numel(), "reshape ", shape.str(), " -> ", s.str());
  TensorView v = *this;
  v.shape = s;
  return v;
}

void Buffer::Free::operator()(void* p) const { std::free(p); }

Buffer::Buffer(size_t bytes) { resize(bytes); }

void Buffer::resize(size_t bytes) {
  if (bytes <= size_ && ptr_) return;
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) throw std::bad_alloc();
  ptr_.reset(p);
  size_ = bytes;
}

}  // namespace ps
