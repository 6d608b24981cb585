// pipeshard_gpu_bench: the GPU benchmarks of tools/gpu_check.sh, each against a baseline measured
// in the same run on the same GPU (built only in CUDA builds; see tools/gpu/CMakeLists.txt).
//
//   prefill  one Llama-style block (RMSNorm, q/k/v/o, RoPE, KV store, attention, SwiGLU MLP) over
//            a prompt, in bf16 through our ops: TFLOP/s against plain cublasGemmEx calls of the
//            block's GEMM shapes (target: >= 60%)
//   decode   the same block for a batch of one-token rows at a long context: bytes it must read
//            (weights + KV cache) per second, against a device-to-device copy (target: >= 70%)
//   nccl     with two or more GPUs and NCCL built: send/recv GB/s by message size between
//            cuda:0 and cuda:1 through the NCCL transport
//
// Prints one line per measurement, "bench <name> <value> <unit> <baseline> <ratio> <target>",
// which gpu_check.sh turns into its table.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "kernels/common/backend.h"
#include "kernels/ops.h"
#include "runtime/core/error.h"

#ifdef PIPESHARD_HAVE_NCCL
#include "runtime/comm/nccl_registry.h"
#include "runtime/comm/nccl_transport.h"
#include "runtime/comm/tcp_store_client.h"
#include "runtime/comm/tcp_store_server.h"
#endif

namespace ps {
namespace {

#define CHECK_CUDA(call)                                                                            \
  do {                                                                                              \
    const cudaError_t e_ = (call);                                                                  \
    if (e_ != cudaSuccess) fail_runtime(#call, " failed: ", cudaGetErrorString(e_));               \
  } while (0)

// Device memory filled with small pseudo-random bf16 values (timings must not see NaN or zeros).
struct DevBuf {
  void* p = nullptr;
  size_t bytes = 0;
  explicit DevBuf(size_t n_bytes) : bytes(n_bytes) {
    CHECK_CUDA(cudaMalloc(&p, bytes));
    std::vector<uint16_t> block(1 << 20);
    uint64_t s = 12345;
    for (auto& v : block) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      v = f32_to_bf16(static_cast<float>(static_cast<int>(s >> 40) % 2001 - 1000) * 1e-4f);
    }
    for (size_t off = 0; off < bytes; off += block.size() * 2)
      CHECK_CUDA(cudaMemcpy(static_cast<char*>(p) + off, block.data(), std::min(bytes - off, block.size() * 2),
                            cudaMemcpyHostToDevice));
  }
  ~DevBuf() { cudaFree(p); }
  TensorView view(Shape s) const {
    PS_CHECK(static_cast<size_t>(s.numel()) * 2 <= bytes, "bench buffer too small for ", s.str());
    return TensorView{p, DType::BF16, Device::cuda(0), s};
  }
};

// Median milliseconds of `reps` runs of f on `stream`, after a warm-up.
double time_ms(cudaStream_t stream, int reps, const std::function<void()>& f) {
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  f();
  CHECK_CUDA(cudaStreamSynchronize(stream));
  std::vector<float> ms;
  for (int i = 0; i < reps; ++i) {
    CHECK_CUDA(cudaEventRecord(a, stream));
    f();
    CHECK_CUDA(cudaEventRecord(b, stream));
    CHECK_CUDA(cudaEventSynchronize(b));
    float t = 0;
    CHECK_CUDA(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void report(const char* name, double value, const char* unit, double baseline, double target) {
  std::printf("bench %s %.3f %s %.3f %.3f %.2f\n", name, value, unit, baseline, value / baseline, target);
  std::fflush(stdout);
}

struct Block {  // Llama-3-8B-like dimensions
  int64_t hidden = 4096, heads = 32, kv_heads = 8, head_dim = 128, inter = 14336;
  int64_t kv() const { return kv_heads * head_dim; }
  int64_t weight_elems() const { return hidden * (hidden + 2 * kv()) + hidden * hidden + 3 * hidden * inter + 2 * hidden; }
  // GEMMs of one token: (out, in) pairs.
  std::vector<std::pair<int64_t, int64_t>> gemms() const {
    return {{hidden, hidden}, {kv(), hidden}, {kv(), hidden}, {hidden, hidden}, {inter, hidden}, {inter, hidden},
            {hidden, inter}};
  }
};

// One block forward over `n` rows (slots/positions given) with our ops.
struct BlockRun {
  const Block& b;
  const OpContext& ctx;
  DevBuf &w, &cache_k, &cache_v, &act;
  int64_t n, slots, max_ctx;
  std::vector<int32_t> slot, pos;
  std::vector<float> inv_freq;

  void operator()() {
    const int64_t H = b.hidden, I = b.inter, D = b.head_dim;
    char* wp = static_cast<char*>(w.p);
    auto weight = [&](Shape s) {
      TensorView t{wp, DType::BF16, Device::cuda(0), s};
      wp += s.numel() * 2;
      return t;
    };
    const TensorView norm1 = weight(Shape{H}), wq = weight(Shape{H, H}), wk = weight(Shape{b.kv(), H}),
                     wv = weight(Shape{b.kv(), H}), wo = weight(Shape{H, H}), norm2 = weight(Shape{H}),
                     wg = weight(Shape{I, H}), wu = weight(Shape{I, H}), wd = weight(Shape{H, I});
    char* ap = static_cast<char*>(act.p);
    auto buf = [&](Shape s) {
      TensorView t{ap, DType::BF16, Device::cuda(0), s};
      ap += (s.numel() * 2 + 255) / 256 * 256;
      return t;
    };
    const TensorView x = buf(Shape{n, H}), h = buf(Shape{n, H}), q = buf(Shape{n, H}), k = buf(Shape{n, b.kv()}),
                     v = buf(Shape{n, b.kv()}), att = buf(Shape{n, H}), o = buf(Shape{n, H}), g = buf(Shape{n, I}),
                     u = buf(Shape{n, I});
    const ops::KvLayerView cache{cache_k.view(Shape{slots, max_ctx, b.kv_heads, D}),
                                 cache_v.view(Shape{slots, max_ctx, b.kv_heads, D})};
    using ops::WeightLayout;
    ops::rms_norm(ctx, x, norm1, 1e-5f, h);
    ops::linear(ctx, h, wq, WeightLayout::OutIn, {}, q);
    ops::linear(ctx, h, wk, WeightLayout::OutIn, {}, k);
    ops::linear(ctx, h, wv, WeightLayout::OutIn, {}, v);
    ops::rope(ctx, q.reshape(Shape{n, b.heads, D}), pos, inv_freq);
    ops::rope(ctx, k.reshape(Shape{n, b.kv_heads, D}), pos, inv_freq);
    ops::kv_store(ctx, cache, k, v, slot, pos);
    ops::attention(ctx, q.reshape(Shape{n, b.heads, D}), cache, slot, pos, 1.0f / std::sqrt(static_cast<float>(D)),
                   att.reshape(Shape{n, b.heads, D}));
    ops::linear(ctx, att, wo, WeightLayout::OutIn, {}, o);
    ops::add(ctx, x, o, x);
    ops::rms_norm(ctx, x, norm2, 1e-5f, h);
    ops::linear(ctx, h, wg, WeightLayout::OutIn, {}, g);
    ops::linear(ctx, h, wu, WeightLayout::OutIn, {}, u);
    ops::silu_mul(ctx, g, u, g);
    ops::linear(ctx, g, wd, WeightLayout::OutIn, {}, o);
    ops::add(ctx, x, o, x);
  }
};

void bench_block(const OpContext& ctx, cudaStream_t stream, bool quick) {
  const Block b;
  const int64_t prompt = quick ? 512 : 2048, batch = 8, context = quick ? 512 : 2048, slots = batch;
  DevBuf w(static_cast<size_t>(b.weight_elems()) * 2);
  DevBuf ck(static_cast<size_t>(slots * context * b.kv()) * 2), cv(ck.bytes);
  const int64_t act_elems = prompt * (5 * b.hidden + 2 * b.kv() + 2 * b.inter) + 16 * 256;
  DevBuf act(static_cast<size_t>(act_elems) * 2);
  const std::vector<float> inv_freq = ops::rope_inv_freq(500000.0, b.head_dim, RopeScaling{});

  // Prefill: one sequence of `prompt` tokens in slot 0.
  BlockRun pre{b, ctx, w, ck, cv, act, prompt, slots, context, {}, {}, inv_freq};
  for (int32_t i = 0; i < prompt; ++i) {
    pre.slot.push_back(0);
    pre.pos.push_back(i);
  }
  const double pre_ms = time_ms(stream, 10, pre);
  double gemm_flops = 0;
  for (const auto& [out, in] : b.gemms()) gemm_flops += 2.0 * static_cast<double>(prompt * out * in);
  const double attn_flops = 4.0 * static_cast<double>(b.heads * b.head_dim) * prompt * (prompt + 1) / 2.0;
  // Baseline: the same GEMM shapes through plain cublasGemmEx, bf16 in, f32 accumulate.
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) fail_runtime("cublasCreate failed");
  cublasSetStream(handle, stream);
  const double gemm_ms = time_ms(stream, 10, [&] {
    const float one = 1.0f, zero = 0.0f;
    for (const auto& [out, in] : b.gemms())
      cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(prompt),
                   static_cast<int>(in), &one, w.p, CUDA_R_16BF, static_cast<int>(in), act.p, CUDA_R_16BF,
                   static_cast<int>(in), &zero, static_cast<char*>(act.p) + act.bytes / 2, CUDA_R_16BF,
                   static_cast<int>(out), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  });
  cublasDestroy(handle);
  report("prefill_block_tflops", (gemm_flops + attn_flops) / pre_ms * 1e-9, "TFLOP/s", gemm_flops / gemm_ms * 1e-9,
         0.60);

  // Decode: `batch` rows, one per slot, each at the last position of a `context`-long sequence.
  BlockRun dec{b, ctx, w, ck, cv, act, batch, slots, context, {}, {}, inv_freq};
  for (int32_t i = 0; i < batch; ++i) {
    dec.slot.push_back(i);
    dec.pos.push_back(static_cast<int32_t>(context - 1));
  }
  const double dec_ms = time_ms(stream, 20, dec);
  const double bytes = static_cast<double>(b.weight_elems()) * 2 + 2.0 * batch * context * b.kv() * 2;
  DevBuf copy_src(256u << 20), copy_dst(256u << 20);
  const double copy_ms = time_ms(stream, 10, [&] {
    CHECK_CUDA(cudaMemcpyAsync(copy_dst.p, copy_src.p, copy_src.bytes, cudaMemcpyDeviceToDevice, stream));
  });
  report("decode_block_gbps", bytes / dec_ms * 1e-6, "GB/s", 2.0 * copy_src.bytes / copy_ms * 1e-6, 0.70);
}

#ifdef PIPESHARD_HAVE_NCCL
void bench_nccl(bool quick) {
  TcpStoreServerOptions so;
  so.token = "gpu-bench-token";
  TcpStoreServer server(so);
  const std::vector<size_t> sizes = quick ? std::vector<size_t>{1u << 12, 1u << 20, 1u << 26}
                                          : std::vector<size_t>{1u << 12, 1u << 16, 1u << 20, 1u << 24, 1u << 28};
  std::vector<double> gbps(sizes.size());
  auto rank_main = [&](int rank) {
    CHECK_CUDA(cudaSetDevice(rank));
    TcpStoreClientOptions co;
    co.port = server.port();
    co.token = so.token;
    TcpStoreClient store(co);
    cudaStream_t stream;
    CHECK_CUDA(cudaStreamCreate(&stream));
    NcclTransportOptions o;
    o.rank = rank;
    o.world = 2;
    o.device = rank;
    o.compute_stream = stream;
    auto t = nccl_transport_create(store, nccl_api_cuda(), std::move(o));
    void* p = nullptr;
    CHECK_CUDA(cudaMalloc(&p, sizes.back()));
    for (size_t i = 0; i < sizes.size(); ++i) {
      const TensorView view{p, DType::BF16, Device::cuda(rank), Shape{static_cast<int64_t>(sizes[i] / 2)}};
      const int iters = sizes[i] >= (1u << 24) ? 10 : 50;
      auto once = [&] { return rank == 0 ? t->send(view, 1) : t->recv(view, 0); };
      once()->wait(std::chrono::seconds(120));  // warm-up (and channel set-up)
      const auto start = std::chrono::steady_clock::now();
      std::vector<std::unique_ptr<Completion>> cs;
      for (int k = 0; k < iters; ++k) cs.push_back(once());
      for (auto& c : cs) c->wait(std::chrono::seconds(120));
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (rank == 1) gbps[i] = static_cast<double>(sizes[i]) * iters / s * 1e-9;
    }
    cudaFree(p);
  };
  std::thread r1(rank_main, 1);
  rank_main(0);
  r1.join();
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string name = "nccl_sendrecv_" + std::to_string(sizes[i]) + "B";
    std::printf("bench %s %.3f GB/s - - -\n", name.c_str(), gbps[i]);
  }
}
#endif

int run(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const Backend* cuda = nullptr;
  for (const Backend* b : backend_list())
    if (b->kind == DeviceKind::CUDA) cuda = b;
  if (cuda == nullptr || cuda->device_count() == 0) {
    std::printf("SKIPPED: no GPU on this machine\n");
    return 0;
  }
  std::printf("device %s\n", cuda->device_name(0).c_str());
  CHECK_CUDA(cudaSetDevice(0));
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  OpContext ctx;
  ctx.backend = cuda;
  ctx.stream = stream;
  bench_block(ctx, stream, quick);
#ifdef PIPESHARD_HAVE_NCCL
  if (cuda->device_count() >= 2) bench_nccl(quick);
  else std::printf("SKIPPED nccl: one GPU (NCCL cannot join two ranks on one device)\n");
#else
  std::printf("SKIPPED nccl: built without NCCL\n");
#endif
  return 0;
}

}  // namespace
}  // namespace ps

int main(int argc, char** argv) {
  try {
    return ps::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipeshard_gpu_bench: %s\n", e.what());
    return 1;
  }
}
