// Threads per block for the row-wise kernels (norms, softmax): one block per row, enough
// threads that each loads a handful of elements per pass. Always a multiple of the warp size.
#pragma once

#include <cstdint>

namespace ps::cuda {

inline int row_threads(int64_t width) {
  if (width <= 1024) return 128;
  if (width <= 4096) return 256;
  return 512;
}

}  // namespace ps::cuda
