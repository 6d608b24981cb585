// dst = src converted to dst's dtype (f32, f16, bf16; round to nearest even), both in host
// memory, by convert_elements (runtime/core/dtype.h): a memcpy for the same dtype, else through f32
// in small chunks. Ranges split over ctx.pool; each element is converted by the same code
// whatever the thread count.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

namespace {

// The CPU backend's rule for copy's two sides (op_checks.cpp has checked counts and overlap):
// host memory, of any dtype.
void check_host(const char* name, const TensorView& t) {
  if (!t.device.is_cpu())
    fail_runtime("copy: ", name, " is on ", t.device.str(), ", the CPU backend copies host memory only");
  if (t.data == nullptr && t.numel() != 0) fail_runtime("copy: ", name, " ", t.shape.str(), " has no data");
}

// Elements [begin, end) of src into dst.
void convert_range(const TensorView& src, const TensorView& dst, int64_t begin, int64_t end) {
  convert_elements(src.dtype, static_cast<const char*>(src.data) + static_cast<size_t>(begin) * dtype_size(src.dtype),
                   dst.dtype, static_cast<char*>(dst.data) + static_cast<size_t>(begin) * dtype_size(dst.dtype),
                   static_cast<size_t>(end - begin));
}

}  // namespace

void copy(const OpContext& ctx, const TensorView& src, const TensorView& dst) {
  check_host("src", src);
  check_host("dst", dst);
  const int64_t n = src.numel();
  if (n == 0) return;
  if (src.data == dst.data && src.dtype == dst.dtype) return;  // onto itself (other overlaps: op_checks.cpp)
  constexpr int64_t kGrain = int64_t{1} << 16;  // below ~64K elements a thread costs more than it saves
  parallel_for(ctx.pool, n, kGrain, [&](int64_t begin, int64_t end) { convert_range(src, dst, begin, end); });
}

}  // namespace ps::cpu
