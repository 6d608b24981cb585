// dst = src converted to dst's dtype (f32, f16, bf16; round to nearest even, as the CPU's
// f32_to_f16/f32_to_bf16), where either side may be host memory.
//
// Same dtype: one cudaMemcpyAsync (cudaMemcpyDefault: the copy engine, no kernel of ours).
// Different dtypes: a grid-stride kernel converts on the device, so a host side is moved in its
// own dtype through stream-ordered scratch (device_buffer.h) and converted there.
//
// A copy with a host side synchronises ctx.stream before it returns. ops.h promises that the copy
// has completed (or its source is staged) on return, and CUDA promises neither in general: a
// pinned source is read by DMA after cudaMemcpyAsync returns, and for pageable memory the driver
// only "may" stage it. Asynchronous uploads from pinned memory are MemoryTable::upload_async's job.
#include <type_traits>

#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_math.cuh"

namespace ps::cuda {

namespace {

template <class S, class D>
__global__ void convert_kernel(const S* src, D* dst, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = from_f32<D>(to_f32(src[i]));
}

constexpr int kThreads = 256;

// n elements of device memory src (dtype `from`) into device memory dst (dtype `to`, != from).
void launch_convert(cudaStream_t stream, const void* src, DType from, void* dst, DType to, int64_t n) {
  dispatch_dtype(from, [&](auto s) {
    dispatch_dtype(to, [&](auto d) {
      using S = typename decltype(s)::type;
      using D = typename decltype(d)::type;
      // Equal dtypes never get here (they are a memcpy): no kernel is built for them.
      if constexpr (!std::is_same_v<S, D>) {
        convert_kernel<<<grid_for(n, kThreads), kThreads, 0, stream>>>(static_cast<const S*>(src),
                                                                       static_cast<D*>(dst), n);
        PS_CUDA_LAUNCH_CHECK("convert_kernel");
      }
    });
  });
}

// The CUDA backend's rule for copy's two sides (op_checks.cpp has checked counts and overlap).
// A host side: device cpu, with memory behind it.
void check_host(const char* name, const TensorView& t) {
  if (t.data == nullptr && t.numel() != 0) fail_runtime("copy: ", name, " ", t.shape.str(), " has no data");
}

// Device tensors on the current device (any dtype); at most one side on the host.
void check_sides(const TensorView& src, const TensorView& dst) {
  if (src.device.is_cpu() && dst.device.is_cpu())
    fail_runtime("copy: src and dst are both on cpu, the CUDA backend copies to or from device memory");
  if (src.device.is_cpu()) check_host("src", src);
  else check_tensor("copy", "src", src, src.dtype);
  if (dst.device.is_cpu()) check_host("dst", dst);
  else check_tensor("copy", "dst", dst, dst.dtype);
}

}  // namespace

void copy(const OpContext& ctx, const TensorView& src, const TensorView& dst) {
  check_sides(src, dst);
  const int64_t n = src.numel();
  if (n == 0) return;
  const bool host_src = src.device.is_cpu(), host_dst = dst.device.is_cpu();
  if (!host_src && !host_dst && src.data == dst.data && src.dtype == dst.dtype) return;  // a tensor onto itself
  // Scratch is released in stream order (cudaFreeAsync), after the work that uses it.
  const cudaStream_t stream = stream_of(ctx);
  if (src.dtype == dst.dtype) {
    PS_CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, src.nbytes(), cudaMemcpyDefault, stream));
  } else if (host_src) {
    const DeviceScratch staged = upload_bytes(stream, src.data, src.nbytes());
    launch_convert(stream, staged.data(), src.dtype, dst.data, dst.dtype, n);
  } else if (host_dst) {
    const DeviceScratch converted(stream, dst.nbytes());
    launch_convert(stream, src.data, src.dtype, converted.data(), dst.dtype, n);
    PS_CUDA_CHECK(cudaMemcpyAsync(dst.data, converted.data(), dst.nbytes(), cudaMemcpyDeviceToHost, stream));
  } else {
    launch_convert(stream, src.data, src.dtype, dst.data, dst.dtype, n);
  }
  if (host_src || host_dst) PS_CUDA_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace ps::cuda
