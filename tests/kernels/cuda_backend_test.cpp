// The CUDA backend where the build has one: device discovery works and an op it does not have yet
// is a clear error. Skipped (not passed) in a CPU-only build.
#include "kernels/backend.h"
#include "kernels/kernel_test_util.h"
#include "kernels/ops.h"

namespace ps::test {
namespace {

const Backend* find_cuda() {
  for (const Backend* b : backend_list())
    if (b->kind == DeviceKind::CUDA) return b;
  return nullptr;
}

TEST(CudaBackendTest, DiscoversDevices) {
  const Backend* cuda = find_cuda();
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

TEST(CudaBackendTest, MissingOpIsNamed) {
  const Backend* cuda = find_cuda();
  if (!cuda) GTEST_SKIP() << "built with PIPESHARD_CUDA=OFF";
  OpContext ctx;
  ctx.backend = cuda;
  std::vector<float> x(4);
  try {
    ops::relu(ctx, view_of(x, Shape{4}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "op relu is not implemented on backend cuda");
  }
}

}  // namespace
}  // namespace ps::test
