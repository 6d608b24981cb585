// Placement: the device check before loading (errors name the plan field), and the stage memory
// estimate against sizes computed here from the checkpoint and the cache geometry.
#include "runtime/placement/placement.h"

#include <gtest/gtest.h>

#include "runtime/weights/checkpoint.h"
#include "support/test_support.h"

namespace ps {
namespace {

TEST(StageDevice, CpuIsCurrentWithNoStream) {
  const StageDevice d(Device::cpu(), "plan.json: stages[0].device");
  d.check_memory(int64_t{1} << 60);  // CPUs are not checked (weights come from the page cache)
  EXPECT_EQ(d.device(), Device::cpu());
  EXPECT_EQ(d.stream(), nullptr);
  EXPECT_EQ(d.backend().kind, DeviceKind::CPU);
  EXPECT_GT(d.free_bytes_at_start(), 0u);
}

TEST(StageDevice, AGpuThisMachineLacksIsAnInputErrorNamingTheField) {
  const int gpus = [] {
    for (const Backend* b : backend_list())
      if (b->kind == DeviceKind::CUDA) return b->device_count();
    return 0;
  }();
  if (gpus > 0) GTEST_SKIP() << "this machine has a GPU";
  try {
    const StageDevice d(Device::cuda(0), "plan.json: stages[1].device");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
    const std::string m = e.what();
    EXPECT_NE(m.find("plan.json: stages[1].device"), std::string::npos) << m;
    EXPECT_NE(m.find("cuda:0"), std::string::npos) << m;
  }
}

TEST(StageComputeDtype, CpuComputesInF32) {
  EXPECT_EQ(stage_compute_dtype(Device::cpu(), DType::BF16), DType::F32);
  EXPECT_EQ(stage_compute_dtype(Device::cuda(0), DType::BF16), DType::BF16);
  EXPECT_EQ(stage_compute_dtype(Device::cuda(1), DType::F16), DType::F16);
}

class EstimateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("m");
    const auto r = test::run_pipeshard({"make-model", "--family", "llama", "--preset", "tiny", "--dtype", "f32",
                                        "--seed", "2", "--out", path_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    spec_ = model_spec_load(path_);
  }
  // Exact bytes of layers [first, last]'s weights in `dtype`, from the checkpoint.
  int64_t weight_bytes(int first, int last, DType dtype) const {
    const Checkpoint ckpt = Checkpoint::open(path_);
    int64_t b = 0;
    for (const auto& [name, raw] : stage_tensors_raw(ckpt, spec_, first, last))
      b += raw.numel() * static_cast<int64_t>(dtype_size(dtype));
    return b;
  }
  test::TempDir dir_;
  std::string path_;
  ModelSpec spec_;
};

TEST_F(EstimateTest, HoldsTheWeightsAndTheKvCacheOfTheJobsContext) {
  const int last = spec_.num_layers() - 1;
  Workload w;
  w.mode = Mode::Generate;
  w.batch = 4;
  w.micro_batches = 2;
  w.prompt_len = 16;
  w.max_new_tokens = 8;
  for (DType d : {DType::F32, DType::BF16}) {
    const int64_t weights = weight_bytes(0, last, d);
    const int64_t at64 = stage_memory_estimate(spec_, w, 0, last, d, d, 64);
    const int64_t at128 = stage_memory_estimate(spec_, w, 0, last, d, d, 128);
    // KV cache: every block, k and v, every sequence of the batch, each position.
    const int64_t kv_per_position = static_cast<int64_t>(spec_.n_layers) * 2 * w.batch * spec_.n_kv_heads *
                                    spec_.head_dim * static_cast<int64_t>(dtype_size(d));
    EXPECT_GE(at64, weights + 64 * kv_per_position) << dtype_name(d);
    EXPECT_GE(at128 - at64, 64 * kv_per_position) << dtype_name(d);
    // ... and not wildly more: the transient of one micro-batch is below the weights of this model.
    EXPECT_LT(at64, 2 * (weights + 64 * kv_per_position)) << dtype_name(d);
  }
  // A stage holds its own layers only.
  const int64_t first_half = stage_memory_estimate(spec_, w, 0, last / 2, DType::F32, DType::F32, 64);
  const int64_t whole = stage_memory_estimate(spec_, w, 0, last, DType::F32, DType::F32, 64);
  EXPECT_LT(first_half, whole);
  EXPECT_GE(first_half, weight_bytes(0, last / 2, DType::F32));
}

}  // namespace
}  // namespace ps
