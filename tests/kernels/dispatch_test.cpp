// ops.h dispatch through the backend registry: the CPU backend fills every entry, a missing
// entry is an error naming the op and the backend rather than a null call, and each op's argument
// checks run before its backend is called.
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "kernels/common/backend.h"
#include "kernels/common/op_list.h"
#include "kernels/kernel_test_util.h"

namespace ps::test {
namespace {

TEST(DispatchTest, CpuBackendFillsEveryOp) {
  const Backend& cpu = cpu_backend();
  EXPECT_EQ(cpu.name, "cpu");
  EXPECT_EQ(&backend_get(Device::cpu()), &cpu);
  // Every op of the list (kernels/common/op_list.h), so a new op cannot be left out.
#define PS_EXPECT_FILLED(name, Signature) EXPECT_NE(cpu.ops.name, nullptr) << "op " #name;
  PS_OP_LIST(PS_EXPECT_FILLED)
#undef PS_EXPECT_FILLED
  EXPECT_NE(cpu.check_tensor, nullptr);
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

// The checks run in front of the backend, once for every backend: a backend without checks of
// its own never sees a call with wrong arguments, and gets the right ones unchanged.
struct RmsNormCall {
  static inline int calls = 0;
  static inline float eps = 0.0f;
  static void kernel(const OpContext&, const TensorView& x, const TensorView&, float e, const TensorView& out) {
    ++calls;
    eps = e;
    out.f32()[0] = x.f32()[0];
  }
};

TEST(DispatchTest, ArgumentChecksRunBeforeTheBackend) {
  Backend fake;
  fake.name = "fake";
  fake.ops.rms_norm = RmsNormCall::kernel;
  OpContext ctx;
  ctx.backend = &fake;
  std::vector<float> x(16, 2.5f), w(7), out(16);
  try {
    ops::rms_norm(ctx, view_of(x, Shape{2, 8}), view_of(w, Shape{7}), 1e-5f, view_of(out, Shape{2, 8}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_EQ(std::string(e.what()), "rms_norm: weight has shape [7], expected [8]");
  }
  EXPECT_EQ(RmsNormCall::calls, 0);
  std::vector<float> w8(8);
  ops::rms_norm(ctx, view_of(x, Shape{2, 8}), view_of(w8, Shape{8}), 0.25f, view_of(out, Shape{2, 8}));
  EXPECT_EQ(RmsNormCall::calls, 1);
  EXPECT_EQ(RmsNormCall::eps, 0.25f);
  EXPECT_EQ(out[0], 2.5f);
}

// The backend's own rule for each tensor runs first, with the call's first dtype, in argument order.
TEST(DispatchTest, BackendTensorRuleRunsOnEveryTensorFirst) {
  static std::vector<std::string> seen;
  seen.clear();
  Backend fake;
  fake.name = "fake";
  fake.ops.add = [](const OpContext&, const TensorView&, const TensorView&, const TensorView&) {};
  fake.check_tensor = [](const char* op, const char* name, const TensorView&, DType dtype) {
    seen.push_back(str(op, ".", name, ":", dtype_name(dtype)));
  };
  OpContext ctx;
  ctx.backend = &fake;
  std::vector<float> a(6), b(4), out(6);
  EXPECT_THROW(ops::add(ctx, view_of(a, Shape{2, 3}), view_of(b, Shape{2, 2}), view_of(out, Shape{2, 3})), Error);
  EXPECT_EQ(seen, (std::vector<std::string>{"add.a:f32", "add.b:f32", "add.out:f32"}));
}

TEST(DispatchTest, DispatchReachesTheCpuOp) {
  CpuContext cpu(1);
  std::vector<float> x{-1.0f, 2.0f};
  ops::relu(cpu.ctx, view_of(x, Shape{2}));
  EXPECT_EQ(x, (std::vector<float>{0.0f, 2.0f}));
}

}  // namespace
}  // namespace ps::test
