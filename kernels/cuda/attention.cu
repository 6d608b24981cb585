// Causal attention over the slotted KV cache, with the CPU op's semantics: row i (slot s,
// position p) attends to cache positions 0..p of slot s; head h reads kv head h / (heads /
// kv_heads). One op for prefill, decode and ragged mixes.
//
// Work split (built on the host from the slots): a block takes up to kQueries query vectors
// that share one slot and one kv head, i.e. a run of consecutive rows of the same slot times the
// query heads of that kv head's group. K and V are loaded into shared memory once per block in
// tiles of kTile positions and reused by every query of the block (the GQA group, and in a
// prefill also neighbouring rows). Per query the softmax is online (running max and sum,
// rescaling the accumulator as the max grows, as FlashAttention does); everything is f32. A
// query skips positions past its own length, so cache entries it may not see (never written,
// or left by an earlier sequence) are never read into its result, and a row gets the same result
// whichever other rows share its block.
//
// Scope: this is the portable CUDA-core kernel. Tensor-core prefill (cuDNN's fused attention,
// or an MMA tiling) and split-K decode for long contexts with few rows are the known next
// steps; the README records them.
#include <algorithm>
#include <vector>

#include "kernels/cuda/cuda_args.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/device_math.cuh"

namespace ps::cuda {

namespace {

constexpr int kTile = 32;     // cache positions per tile: one per lane in the softmax step
constexpr int kQueries = 16;  // query vectors per block
constexpr int kThreads = 128;
constexpr int kMaxHeadDim = 256;

// A block's queries: rows [row0, row0 + rows) of one slot, query heads [g0, g0 + groups) of the
// block's kv head group.
struct Item {
  int32_t row0, rows, g0, groups, slot;
};

struct Geometry {
  int heads, kv_heads, head_dim, max_ctx;
  float scale;
};

size_t smem_bytes(int head_dim) {
  const size_t floats = 2 * static_cast<size_t>(kQueries) * head_dim      // q, accumulator
                        + static_cast<size_t>(kTile) * (head_dim + 1)      // K or V tile (padded)
                        + static_cast<size_t>(kQueries) * kTile            // scores / weights
                        + 3 * static_cast<size_t>(kQueries);               // max, sum, rescale
  return floats * sizeof(float) + kQueries * sizeof(int);                  // lengths
}

template <class T>
__global__ void __launch_bounds__(kThreads) attention_kernel(const T* q, const T* ck, const T* cv, T* out,
                                                             const int32_t* positions, const Item* items,
                                                             Geometry g) {
  extern __shared__ float smem[];
  const int D = g.head_dim, P = D + 1;
  float* q_s = smem;                       // [kQueries][D]
  float* acc = q_s + kQueries * D;         // [kQueries][D]
  float* kv = acc + kQueries * D;          // [kTile][D + 1]: +1 so lanes reading rows avoid bank conflicts
  float* w = kv + kTile * P;               // [kQueries][kTile]
  float* m_s = w + kQueries * kTile;       // running max
  float* l_s = m_s + kQueries;             // running sum of weights
  float* a_s = l_s + kQueries;             // this tile's rescale factor
  int* len_s = reinterpret_cast<int*>(a_s + kQueries);

  const Item it = items[blockIdx.x];
  const int kvh = blockIdx.y, group = g.heads / g.kv_heads;
  const int nq = it.rows * it.groups;
  const int tid = threadIdx.x, lane = tid % kWarp, warp = tid / kWarp, warps = blockDim.x / kWarp;
  // Query i of the block: row it.row0 + i / groups, head kvh * group + it.g0 + i % groups.
  auto q_offset = [&](int i) {
    const int64_t row = it.row0 + i / it.groups, head = kvh * group + it.g0 + i % it.groups;
    return (row * g.heads + head) * D;
  };

  int max_len = 0;
  for (int i = 0; i < nq; ++i) max_len = max(max_len, positions[it.row0 + i / it.groups] + 1);
  for (int i = tid; i < nq; i += blockDim.x) {
    len_s[i] = positions[it.row0 + i / it.groups] + 1;
    m_s[i] = -INFINITY;
    l_s[i] = 0.0f;
  }
  for (int idx = tid; idx < nq * D; idx += blockDim.x) {
    const int i = idx / D, d = idx % D;
    q_s[idx] = to_f32(q[q_offset(i) + d]);
    acc[idx] = 0.0f;
  }
  // Cache row of (slot, position t) for this kv head: ((slot * max_ctx + t) * kv_heads + kvh) * D.
  const int64_t base = (static_cast<int64_t>(it.slot) * g.max_ctx * g.kv_heads + kvh) * D;
  const int64_t pos_stride = static_cast<int64_t>(g.kv_heads) * D;
  __syncthreads();

  for (int t0 = 0; t0 < max_len; t0 += kTile) {
    const int tl = min(kTile, max_len - t0);
    for (int idx = tid; idx < tl * D; idx += blockDim.x) {
      const int t = idx / D, d = idx % D;
      kv[t * P + d] = to_f32(ck[base + (t0 + t) * pos_stride + d]);
    }
    __syncthreads();
    // Scores, as the CPU op: dot(q, k) in f32, then times scale. Positions past a query's
    // length get -inf, i.e. weight 0.
    for (int idx = tid; idx < nq * kTile; idx += blockDim.x) {
      const int i = idx / kTile, t = idx % kTile;
      float s = -INFINITY;
      if (t < tl && t0 + t < len_s[i]) {
        const float* qi = q_s + i * D;
        const float* kt = kv + t * P;
        float dot = 0.0f;
        for (int d = 0; d < D; ++d) dot += qi[d] * kt[d];
        s = dot * g.scale;
      }
      w[idx] = s;
    }
    __syncthreads();
    // Online softmax, one warp per query, one lane per position of the tile. Position 0 is in
    // the first tile and valid for every query, so the running max is finite from then on.
    for (int i = warp; i < nq; i += warps) {
      const float s = w[i * kTile + lane];
      const float m_old = m_s[i];
      const float m_new = fmaxf(m_old, warp_max(s));
      const float p = expf(s - m_new);  // exp(-inf) = 0 for masked positions
      const float sum = warp_sum(p);
      w[i * kTile + lane] = p;
      if (lane == 0) {
        const float alpha = expf(m_old - m_new);  // 0 on the first tile (m_old = -inf)
        a_s[i] = alpha;
        l_s[i] = l_s[i] * alpha + sum;
        m_s[i] = m_new;
      }
    }
    __syncthreads();  // the K tile is no longer read: load V over it
    for (int idx = tid; idx < tl * D; idx += blockDim.x) {
      const int t = idx / D, d = idx % D;
      kv[t * P + d] = to_f32(cv[base + (t0 + t) * pos_stride + d]);
    }
    __syncthreads();
    for (int idx = tid; idx < nq * D; idx += blockDim.x) {
      const int i = idx / D, d = idx % D;
      const int valid = min(tl, max(0, len_s[i] - t0));  // skip, not multiply by 0: unseen V may be NaN
      float a = acc[idx] * a_s[i];
      for (int t = 0; t < valid; ++t) a += w[i * kTile + t] * kv[t * P + d];
      acc[idx] = a;
    }
    __syncthreads();
  }

  for (int idx = tid; idx < nq * D; idx += blockDim.x) {
    const int i = idx / D, d = idx % D;
    out[q_offset(i) + d] = from_f32<T>(acc[idx] * (1.0f / l_s[i]));
  }
}

// Runs of consecutive rows with the same slot, cut into blocks of at most kQueries queries.
std::vector<Item> make_items(std::span<const int32_t> slots, int group) {
  std::vector<Item> items;
  const auto n = static_cast<int32_t>(slots.size());
  const int32_t groups = std::min(group, kQueries);  // query heads per block
  const int32_t rows_per_item = std::max(1, kQueries / group);
  for (int32_t r = 0; r < n;) {
    int32_t end = r + 1;
    while (end < n && end - r < rows_per_item && slots[static_cast<size_t>(end)] == slots[static_cast<size_t>(r)])
      ++end;
    for (int32_t g0 = 0; g0 < group; g0 += groups)
      items.push_back({r, end - r, g0, std::min(groups, group - g0), slots[static_cast<size_t>(r)]});
    r = end;
  }
  return items;
}

}  // namespace

void attention(const OpContext& ctx, const TensorView& q, const ops::KvLayerView& cache,
               std::span<const int32_t> slots, std::span<const int32_t> positions, float scale,
               const TensorView& out) {
  const DType dt = q.dtype;
  const int64_t n = q.dim(0), heads = q.dim(1), kv_heads = cache.k.dim(2);
  const int64_t head_dim = q.dim(2), max_ctx = cache.k.dim(1);
  if (n == 0 || heads == 0 || head_dim == 0) return;
  if (head_dim > kMaxHeadDim)
    fail_runtime("attention: head_dim ", head_dim, " is above the CUDA kernel's ", kMaxHeadDim);
  if (kv_heads > 65535) fail_runtime("attention: ", kv_heads, " kv heads exceed the grid's y dimension");

  const Geometry geo{to_int("attention", "heads", heads), static_cast<int>(kv_heads), static_cast<int>(head_dim),
                     to_int("attention", "max_ctx", max_ctx), scale};
  const std::vector<Item> items = make_items(slots, geo.heads / geo.kv_heads);
  const cudaStream_t stream = stream_of(ctx);
  const DeviceScratch d_pos = upload(stream, positions);
  const DeviceScratch d_items = upload(stream, std::span<const Item>(items));
  const size_t smem = smem_bytes(geo.head_dim);
  const dim3 grid(static_cast<unsigned>(to_int("attention", "blocks", static_cast<int64_t>(items.size()))),
                  static_cast<unsigned>(kv_heads));

  dispatch_dtype(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Past 48 KiB (head_dim > ~180) a kernel must opt in to more dynamic shared memory.
    if (smem > 48 * 1024) {
      int device = 0, optin = 0;
      PS_CUDA_CHECK(cudaGetDevice(&device));
      PS_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
      if (smem > static_cast<size_t>(optin))
        fail_runtime("attention: head_dim ", head_dim, " needs ", smem, " bytes of shared memory, cuda:", device,
                     " has ", optin);
      PS_CUDA_CHECK(cudaFuncSetAttribute(attention_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(smem)));
    }
    attention_kernel<T><<<grid, kThreads, smem, stream>>>(
        static_cast<const T*>(q.data), static_cast<const T*>(cache.k.data), static_cast<const T*>(cache.v.data),
        static_cast<T*>(out.data), d_pos.as<int32_t>(), d_items.as<Item>(), geo);
    PS_CUDA_LAUNCH_CHECK("attention_kernel");
  });
}

}  // namespace ps::cuda
