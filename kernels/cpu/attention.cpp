// Causal attention over a slotted KV cache: row i (slot s, position p) attends to cache positions
// 0..p of slot s, so one op serves prefill, decode and ragged mixes of both. Per (row, head):
// scores = scale * q.k_t over contiguous head_dim vectors, a max-subtracted softmax, then the
// exp-weighted sum of v_t, divided by the sum once at the end. Everything accumulates in f32.
//
// Threads: (row, head) tasks cost ~ p + 1, so a prefill's later rows are the heavy ones; tasks
// are split into one contiguous range per thread by equal total cost, not by count. Each range
// gets its own slice of the workspace (scores + an accumulator), 64-byte aligned so threads never
// share a cache line. A task's arithmetic does not depend on the split: results are bit-identical
// for any thread count, and a row gives the same output whether it came in a prefill or a decode.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_ops.h"
#include "runtime/core/thread_pool.h"

namespace ps::cpu {

namespace {

// Eight independent partial sums: the compiler vectorises this without -ffast-math, and the
// summation order is fixed.
float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[j + l] * b[j + l];
  float tail = 0.0f;
  for (; j < n; ++j) tail += a[j] * b[j];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

struct Geometry {
  int64_t heads, kv_heads, head_dim, max_ctx;
  int64_t group() const { return heads / kv_heads; }
  int64_t kv_row() const { return kv_heads * head_dim; }  // stride between cache positions
};

// One (row, head): q[head_dim] against positions 0..len-1 of k/v (stride kv_row), into out.
void attend(const Geometry& g, const float* q, const float* k, const float* v, int64_t len, float scale,
            float* scores, float* acc, float* out) {
  const int64_t d = g.head_dim, stride = g.kv_row();
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < len; ++t) {
    scores[t] = dot(q, k + t * stride, d) * scale;
    m = std::max(m, scores[t]);
  }
  float sum = 0.0f;
  for (int64_t t = 0; t < len; ++t) {
    scores[t] = std::exp(scores[t] - m);
    sum += scores[t];
  }
  std::fill(acc, acc + d, 0.0f);
  for (int64_t t = 0; t < len; ++t) {
    const float w = scores[t];
    const float* vt = v + t * stride;
    for (int64_t j = 0; j < d; ++j) acc[j] += w * vt[j];
  }
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < d; ++j) out[j] = acc[j] * inv;
}

// Task boundaries: part c covers tasks [bounds[c], bounds[c+1]), with about equal cost. A task
// goes to the part its cost midpoint falls in, so a part is never more than half a task off.
std::vector<int64_t> split_by_cost(std::span<const int32_t> positions, int64_t heads, int64_t parts) {
  // A task's cost is its cache length plus a fixed overhead (q load, normalisation).
  auto cost = [&](int64_t task) { return static_cast<int64_t>(positions[static_cast<size_t>(task / heads)]) + 9; };
  const auto tasks = static_cast<int64_t>(positions.size()) * heads;
  int64_t total = 0;
  for (int64_t t = 0; t < tasks; ++t) total += cost(t);
  std::vector<int64_t> bounds{0};
  int64_t done = 0;
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t mid2 = 2 * done + cost(t);  // twice the task's midpoint
    while (static_cast<int64_t>(bounds.size()) < parts && mid2 * parts > 2 * total * static_cast<int64_t>(bounds.size()))
      bounds.push_back(t);
    done += cost(t);
  }
  while (static_cast<int64_t>(bounds.size()) <= parts) bounds.push_back(tasks);
  return bounds;
}

}  // namespace

void attention(const OpContext& ctx, const TensorView& q, const ops::KvLayerView& cache,
               std::span<const int32_t> slots, std::span<const int32_t> positions, float scale,
               const TensorView& out) {
  const int64_t n = q.dim(0);
  const Geometry g{q.dim(1), cache.k.dim(2), q.dim(2), cache.k.dim(1)};
  int64_t max_len = 0;
  for (int64_t i = 0; i < n; ++i) max_len = std::max<int64_t>(max_len, positions[static_cast<size_t>(i)] + 1);
  if (n == 0 || g.heads == 0) return;

  const int64_t tasks = n * g.heads;
  const int64_t parts = std::min<int64_t>(ctx.pool ? ctx.pool->size() : 1, tasks);
  const std::vector<int64_t> bounds = split_by_cost(positions, g.heads, parts);
  const int64_t per_part = (max_len + g.head_dim + 15) / 16 * 16;  // floats, a multiple of 64 bytes
  Workspace local;
  float* scratch = (ctx.workspace ? ctx.workspace : &local)->floats(static_cast<size_t>(parts * per_part));

  const float* pq = q.f32();
  const float* pk = cache.k.f32();
  const float* pv = cache.v.f32();
  float* po = out.f32();
  parallel_for(ctx.pool, parts, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* scores = scratch + c * per_part;
      float* acc = scores + max_len;
      for (int64_t task = bounds[static_cast<size_t>(c)]; task < bounds[static_cast<size_t>(c) + 1]; ++task) {
        const int64_t i = task / g.heads, h = task % g.heads;
        const int64_t slot = slots[static_cast<size_t>(i)];
        const int64_t len = positions[static_cast<size_t>(i)] + 1;
        const int64_t kv_off = slot * g.max_ctx * g.kv_row() + (h / g.group()) * g.head_dim;
        const int64_t q_off = task * g.head_dim;  // q and out are [n, heads, head_dim]
        attend(g, pq + q_off, pk + kv_off, pv + kv_off, len, scale, scores, acc, po + q_off);
      }
    }
  });
}

}  // namespace ps::cpu
