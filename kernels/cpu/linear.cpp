// y[n, out] = x[n, in] * W (+ bias) on OpenBLAS. One row (decode) uses sgemv: it streams the
// weight once and is bound by memory bandwidth, where sgemm would pack W first. The bias is
// added after the product, row by row on the ThreadPool. OpenBLAS runs its own threads
// (blas_threads.h), so this op does not use ctx.pool for the product.
#include <cblas.h>

#include <climits>

#include "kernels/cpu/grain.h"
#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

namespace {

int blas_int(int64_t v, const char* what) {
  if (v > INT_MAX) fail_runtime("linear: ", what, " = ", v, " exceeds the BLAS integer range");
  return static_cast<int>(v);
}

}  // namespace

void linear(const OpContext& ctx, const TensorView& x, const TensorView& weight, ops::WeightLayout layout,
            const TensorView& bias, const TensorView& out) {
  const bool out_in = layout == ops::WeightLayout::OutIn;
  const int64_t n = x.dim(0), in = x.dim(1);
  const int64_t out_f = out_in ? weight.dim(0) : weight.dim(1);
  if (n == 0 || out_f == 0) return;

  const int bn = blas_int(n, "rows"), bin = blas_int(in, "in_features"), bout = blas_int(out_f, "out_features");
  const float* px = x.f32();
  const float* pw = weight.f32();
  float* py = out.f32();
  if (n == 1) {
    // OutIn: y = W x with W [out, in]; InOut: y = W^T x with W [in, out]. Both row-major.
    if (out_in)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, bout, bin, 1.0f, pw, bin, px, 1, 0.0f, py, 1);
    else
      cblas_sgemv(CblasRowMajor, CblasTrans, bin, bout, 1.0f, pw, bout, px, 1, 0.0f, py, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, out_in ? CblasTrans : CblasNoTrans, bn, bout, bin, 1.0f, px, bin,
                pw, out_in ? bin : bout, 0.0f, py, bout);
  }

  if (bias.empty()) return;
  const float* pb = bias.f32();
  parallel_for(ctx.pool, n, grain_for(out_f), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* yr = py + r * out_f;
      for (int64_t j = 0; j < out_f; ++j) yr[j] += pb[j];
    }
  });
}

}  // namespace ps::cpu
