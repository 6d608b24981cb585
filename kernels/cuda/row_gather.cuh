// dst[i, :] = src[idx[i], :] (or +=): the kernel behind embedding and gather_rows. One block per
// output row; the threads stride over the row, so loads and stores are coalesced.
#pragma once

#include <span>

#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_math.cuh"

namespace ps::cuda {

template <class T, bool Accumulate>
__global__ void row_gather_kernel(const T* src, const int32_t* idx, T* dst, int64_t width) {
  const T* s = src + static_cast<int64_t>(idx[blockIdx.x]) * width;
  T* d = dst + static_cast<int64_t>(blockIdx.x) * width;
  for (int64_t j = threadIdx.x; j < width; j += blockDim.x)
    d[j] = Accumulate ? from_f32<T>(to_f32(d[j]) + to_f32(s[j])) : s[j];
}

// idx must already be validated against src's rows.
inline void launch_row_gather(const OpContext& ctx, const char* op, const TensorView& src,
                              std::span<const int32_t> idx, const TensorView& dst, bool accumulate) {
  const int64_t n = static_cast<int64_t>(idx.size()), width = src.dim(1);
  if (n == 0 || width == 0) return;
  const cudaStream_t stream = stream_of(ctx);
  const DeviceScratch d_idx = upload(stream, idx);
  const unsigned blocks = static_cast<unsigned>(to_int(op, "rows", n));
  const int threads = width >= 512 ? 256 : 128;
  dispatch_dtype(src.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto* s = static_cast<const T*>(src.data);
    auto* d = static_cast<T*>(dst.data);
    if (accumulate)
      row_gather_kernel<T, true><<<blocks, threads, 0, stream>>>(s, d_idx.as<int32_t>(), d, width);
    else
      row_gather_kernel<T, false><<<blocks, threads, 0, stream>>>(s, d_idx.as<int32_t>(), d, width);
    PS_CUDA_LAUNCH_CHECK("row_gather_kernel");
  });
}

}  // namespace ps::cuda
