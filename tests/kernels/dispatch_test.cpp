// ops.h dispatch through the backend registry: the CPU backend fills every entry, and a missing
// entry is an error naming the op and the backend rather than a null call.
#include "kernels/ops.h"
#include "kernels/backend.h"
#include "kernels/kernel_test_util.h"

namespace ps::test {
namespace {

TEST(DispatchTest, CpuBackendFillsEveryOp) {
  const Backend& cpu = cpu_backend();
  EXPECT_EQ(cpu.name, "cpu");
  EXPECT_EQ(&backend_get(Device::cpu()), &cpu);
  const OpTable& t = cpu.ops;
  const void* entries[] = {
      reinterpret_cast<const void*>(t.embedding), reinterpret_cast<const void*>(t.add),
      reinterpret_cast<const void*>(t.gelu_tanh), reinterpret_cast<const void*>(t.relu),
      reinterpret_cast<const void*>(t.gelu_erf),  reinterpret_cast<const void*>(t.silu),
      reinterpret_cast<const void*>(t.tanh_act),  reinterpret_cast<const void*>(t.gather_rows),
      reinterpret_cast<const void*>(t.copy_columns),
      reinterpret_cast<const void*>(t.silu_mul),  reinterpret_cast<const void*>(t.layer_norm),
      reinterpret_cast<const void*>(t.rms_norm),  reinterpret_cast<const void*>(t.linear),
      reinterpret_cast<const void*>(t.rope),      reinterpret_cast<const void*>(t.kv_store),
      reinterpret_cast<const void*>(t.attention), reinterpret_cast<const void*>(t.softmax),
      reinterpret_cast<const void*>(t.log_softmax), reinterpret_cast<const void*>(t.sample)};
  for (const void* e : entries) EXPECT_NE(e, nullptr);
  ASSERT_NE(cpu.device_count, nullptr);
  EXPECT_EQ(cpu.device_count(), 1);
  EXPECT_FALSE(cpu.device_name(0).empty());
}

TEST(DispatchTest, MissingOpNamesOpAndBackend) {
  Backend empty;
  empty.name = "fake";
  OpContext ctx;
  ctx.backend = &empty;
  std::vector<float> x(4);
  try {
    ops::relu(ctx, view_of(x, Shape{4}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_EQ(std::string(e.what()), "op relu is not implemented on backend fake");
  }
  EXPECT_THROW(ops::softmax(ctx, view_of(x, Shape{1, 4})), Error);
}

TEST(DispatchTest, NoBackendIsAnError) {
  OpContext ctx;
  std::vector<float> x(4);
  EXPECT_THROW(ops::relu(ctx, view_of(x, Shape{4})), Error);
}

TEST(DispatchTest, DispatchReachesTheCpuOp) {
  CpuContext cpu(1);
  std::vector<float> x{-1.0f, 2.0f};
  ops::relu(cpu.ctx, view_of(x, Shape{2}));
  EXPECT_EQ(x, (std::vector<float>{0.0f, 2.0f}));
}

}  // namespace
}  // namespace ps::test
