// In-place elementwise ops share one loop: split over the pool, apply f to each element.
#pragma once

#include "kernels/common/op_context.h"
#include "kernels/cpu/grain.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

// `cost` is the element's cost in adds, to size the parallel chunks (grain_for).
template <class F>
void unary_inplace(const OpContext& ctx, const TensorView& x, int64_t cost, F f) {
  float* p = x.f32();
  parallel_for(ctx.pool, x.numel(), grain_for(cost), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) p[i] = f(p[i]);
  });
}

}  // namespace ps::cpu
