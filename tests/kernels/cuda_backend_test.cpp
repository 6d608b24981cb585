// The CUDA backend where the build has one: device discovery, a complete op table, and argument
// checks that name the op and the tensor (these need no GPU: they fail before any CUDA call).
// Skipped (not passed) in a CPU-only build. The ops' results are checked in cuda_ops_test.cpp.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/common/backend.h"
#include "kernels/common/op_list.h"
#include "kernels/cuda_test_util.h"
#include "kernels/kernel_test_util.h"
#include "kernels/ops.h"

namespace ps::test {
namespace {

TEST(CudaBackendTest, DiscoversDevices) {
  const Backend* cuda = cuda_backend_or_null();
  if (!cuda) GTEST_SKIP() << "built with PIPESHARD_CUDA=OFF";
  EXPECT_EQ(cuda->name, "cuda");
  ASSERT_NE(cuda->device_count, nullptr);
  const int n = cuda->device_count();
  EXPECT_GE(n, 0);
  for (int i = 0; i < n; ++i) EXPECT_FALSE(cuda->device_name(i).empty()) << "device " << i;
  if (n == 0) GTEST_SKIP() << "no GPU on this machine";
  EXPECT_EQ(&backend_get(Device::cuda(0)), cuda);
  EXPECT_THROW(backend_get(Device::cuda(n)), Error);
}

TEST(CudaBackendTest, FillsEveryOp) {
  const Backend* cuda = cuda_backend_or_null();
  if (!cuda) GTEST_SKIP() << "built with PIPESHARD_CUDA=OFF";
  // Every op of the list (kernels/common/op_list.h), so a new op cannot be left out.
#define PS_EXPECT_FILLED(name, Signature) EXPECT_NE(cuda->ops.name, nullptr) << "op " #name;
  PS_OP_LIST(PS_EXPECT_FILLED)
#undef PS_EXPECT_FILLED
  EXPECT_NE(cuda->check_tensor, nullptr);
  const MemoryTable& m = cuda->memory;
  const void* memory[] = {
      reinterpret_cast<const void*>(m.alloc),          reinterpret_cast<const void*>(m.free),
      reinterpret_cast<const void*>(m.zero),           reinterpret_cast<const void*>(m.host_alloc),
      reinterpret_cast<const void*>(m.host_free),      reinterpret_cast<const void*>(m.upload_async),
      reinterpret_cast<const void*>(m.set_device),     reinterpret_cast<const void*>(m.mem_info),
      reinterpret_cast<const void*>(m.stream_create),  reinterpret_cast<const void*>(m.stream_destroy),
      reinterpret_cast<const void*>(m.synchronize),    reinterpret_cast<const void*>(m.event_create),
      reinterpret_cast<const void*>(m.event_record),   reinterpret_cast<const void*>(m.event_synchronize),
      reinterpret_cast<const void*>(m.event_destroy)};
  for (size_t i = 0; i < std::size(memory); ++i) EXPECT_NE(memory[i], nullptr) << "memory table entry " << i;
}

TEST(CudaBackendTest, HostTensorIsRejectedNamingTheOpAndTensor) {
  const Backend* cuda = cuda_backend_or_null();
  if (!cuda) GTEST_SKIP() << "built with PIPESHARD_CUDA=OFF";
  OpContext ctx;
  ctx.backend = cuda;
  std::vector<float> x(4);
  try {
    ops::relu(ctx, view_of(x, Shape{4}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "relu: x is on cpu, the CUDA backend needs device memory");
  }
  std::vector<float> w(8);
  TensorView dev_w = view_of(w, Shape{2, 4});
  dev_w.device = Device::cuda(0);
  try {
    ops::linear(ctx, view_of(x, Shape{1, 4}), dev_w, ops::WeightLayout::OutIn, TensorView{}, view_of(x, Shape{1, 4}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "linear: x is on cpu, the CUDA backend needs device memory");
  }
}

// copy may take one host side, not two; the check comes before any CUDA call.
TEST(CudaBackendTest, CopyNeedsADeviceSide) {
  const Backend* cuda = cuda_backend_or_null();
  if (!cuda) GTEST_SKIP() << "built with PIPESHARD_CUDA=OFF";
  OpContext ctx;
  ctx.backend = cuda;
  std::vector<float> a(4), b(4);
  try {
    ops::copy(ctx, view_of(a, Shape{4}), view_of(b, Shape{4}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "copy: src and dst are both on cpu, the CUDA backend copies to or from device memory");
  }
}

// The memory table end to end on cuda:0, read back through ops::copy: zero, an asynchronous
// upload from pinned memory on a stream of our own behind an event, mem_info, and an
// allocation too large for any GPU, which must fail naming the device and the size and leave
// the next call working.
TEST(CudaBackendTest, MemoryTableOnDevice0) {
  const std::string why = cuda_skip_reason();
  if (!why.empty()) GTEST_SKIP() << why;
  const Backend* cuda = cuda_backend_or_null();
  const MemoryTable& m = cuda->memory;
  m.set_device(0);
  constexpr size_t kFloats = 3000, kBytes = kFloats * sizeof(float);
  void* dev = m.alloc(0, kBytes);
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(dev) % 256, 0u);  // cudaMalloc's alignment
  OpContext ctx;
  ctx.backend = cuda;
  const TensorView dev_view{dev, DType::F32, Device::cuda(0), Shape{static_cast<int64_t>(kFloats)}};
  std::vector<float> back(kFloats, NAN);

  m.zero(0, dev, kBytes);
  ops::copy(ctx, dev_view, view_of(back, Shape{static_cast<int64_t>(kFloats)}));
  EXPECT_EQ(back, std::vector<float>(kFloats, 0.0f));

  auto* pinned = static_cast<float*>(m.host_alloc(kBytes));
  ASSERT_NE(pinned, nullptr);
  for (size_t i = 0; i < kFloats; ++i) pinned[i] = static_cast<float>(i) * 0.5f - 7.0f;
  void* stream = m.stream_create(0);
  ASSERT_NE(stream, nullptr);
  void* done = m.event_create();
  m.upload_async(dev, pinned, kBytes, stream);
  m.event_record(done, stream);
  m.event_synchronize(done);
  ctx.stream = stream;
  ops::copy(ctx, dev_view, view_of(back, Shape{static_cast<int64_t>(kFloats)}));
  for (size_t i = 0; i < kFloats; ++i) ASSERT_EQ(back[i], pinned[i]) << "element " << i;
  m.synchronize(stream);

  size_t free_bytes = 0, total_bytes = 0;
  m.mem_info(0, &free_bytes, &total_bytes);
  EXPECT_GT(free_bytes, 0u);
  EXPECT_LE(free_bytes, total_bytes);

  const size_t huge = size_t{1} << 60;
  try {
    m.alloc(0, huge);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(str("cuda:0: allocating ", huge, " bytes")), std::string::npos) << e.what();
  }
  m.zero(0, dev, kBytes);  // the failed allocation left no error behind

  m.event_destroy(done);
  m.stream_destroy(stream);
  m.host_free(pinned);
  m.free(0, dev);
  m.free(0, nullptr);
}

}  // namespace
}  // namespace ps::test
