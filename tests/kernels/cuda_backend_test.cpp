// The CUDA backend where the build has one: device discovery, a complete op table, and argument
// checks that name the op and the tensor (these need no GPU: they fail before any CUDA call).
// Skipped (not passed) in a CPU-only build. The ops' results are checked in cuda_ops_test.cpp.
#include "kernels/backend.h"
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
  const OpTable& t = cuda->ops;
  const void* entries[] = {
      reinterpret_cast<const void*>(t.embedding), reinterpret_cast<const void*>(t.add),
      reinterpret_cast<const void*>(t.gelu_tanh), reinterpret_cast<const void*>(t.relu),
      reinterpret_cast<const void*>(t.gelu_erf),  reinterpret_cast<const void*>(t.silu),
      reinterpret_cast<const void*>(t.tanh_act),  reinterpret_cast<const void*>(t.gather_rows),
      reinterpret_cast<const void*>(t.copy_columns), reinterpret_cast<const void*>(t.silu_mul),
      reinterpret_cast<const void*>(t.layer_norm), reinterpret_cast<const void*>(t.rms_norm),
      reinterpret_cast<const void*>(t.linear),    reinterpret_cast<const void*>(t.rope),
      reinterpret_cast<const void*>(t.kv_store),  reinterpret_cast<const void*>(t.attention),
      reinterpret_cast<const void*>(t.softmax),   reinterpret_cast<const void*>(t.log_softmax),
      reinterpret_cast<const void*>(t.sample)};
  for (size_t i = 0; i < std::size(entries); ++i) EXPECT_NE(entries[i], nullptr) << "op table entry " << i;
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

}  // namespace
}  // namespace ps::test
