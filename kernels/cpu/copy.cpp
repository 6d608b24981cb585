// dst = src converted to dst's dtype (f32, f16, bf16; round to nearest even), both in host
// memory. Same dtype is a memcpy; otherwise elements go through f32 in small chunks that stay in
// L1, so no conversion needs a buffer of the tensor's size. Chunks split over ctx.pool; each
// element is converted by the same code whatever the thread count.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/cpu_check.h"
#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

namespace {

constexpr int64_t kChunk = 1024;  // elements per f32 staging buffer (4 KiB on the stack)

void check_host(const char* name, const TensorView& t) {
  if (!t.device.is_cpu())
    fail_runtime("copy: ", name, " is on ", t.device.str(), ", the CPU backend copies host memory only");
  if (t.data == nullptr && t.numel() != 0) fail_runtime("copy: ", name, " ", t.shape.str(), " has no data");
}

// Elements [begin, end) of src into dst, through f32 where neither side is f32.
void convert_range(const TensorView& src, const TensorView& dst, int64_t begin, int64_t end) {
  const size_t ss = dtype_size(src.dtype), ds = dtype_size(dst.dtype);
  const auto* from = static_cast<const char*>(src.data);
  auto* to = static_cast<char*>(dst.data);
  if (src.dtype == dst.dtype) {
    std::memcpy(to + static_cast<size_t>(begin) * ds, from + static_cast<size_t>(begin) * ss,
                static_cast<size_t>(end - begin) * ds);
    return;
  }
  float staging[kChunk];
  for (int64_t i = begin; i < end; i += kChunk) {
    const auto n = static_cast<size_t>(std::min(kChunk, end - i));
    const void* s = from + static_cast<size_t>(i) * ss;
    void* d = to + static_cast<size_t>(i) * ds;
    if (dst.dtype == DType::F32) {
      convert_to_f32(src.dtype, s, static_cast<float*>(d), n);
    } else if (src.dtype == DType::F32) {
      convert_from_f32(dst.dtype, static_cast<const float*>(s), d, n);
    } else {
      convert_to_f32(src.dtype, s, staging, n);
      convert_from_f32(dst.dtype, staging, d, n);
    }
  }
}

}  // namespace

void copy(const OpContext& ctx, const TensorView& src, const TensorView& dst) {
  check_host("src", src);
  check_host("dst", dst);
  const int64_t n = src.numel();
  if (dst.numel() != n)
    fail_runtime("copy: src ", src.shape.str(), " has ", n, " elements, dst ", dst.shape.str(), " has ", dst.numel());
  if (n == 0) return;
  // Copying a tensor onto itself is a no-op; any other overlap would read elements already
  // overwritten (or, across dtypes, half-overwritten).
  if (src.data == dst.data && src.dtype == dst.dtype) return;
  if (views_overlap(src, dst))
    fail_runtime("copy: src (", dtype_name(src.dtype), " ", src.shape.str(), ") and dst (", dtype_name(dst.dtype),
                 " ", dst.shape.str(), ") overlap in memory");
  constexpr int64_t kGrain = int64_t{1} << 16;  // below ~64K elements a thread costs more than it saves
  parallel_for(ctx.pool, n, kGrain, [&](int64_t begin, int64_t end) { convert_range(src, dst, begin, end); });
}

}  // namespace ps::cpu
