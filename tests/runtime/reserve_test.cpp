// StageModel::reserve: after it, micro-batches of any size up to the reserved one never grow the
// stage's scratch memory, and the results are bit-identical to a stage that was never reserved.
#include <gtest/gtest.h>

#include <random>

#include "runtime/drivers/local_model.h"
#include "support/test_support.h"

namespace ps {
namespace {

constexpr int kSlots = 2;
constexpr int64_t kCtx = 24;

std::string make_model(const test::TempDir& dir, const std::string& family) {
  const std::string out = dir.file(family);
  const auto r = test::run_pipeshard(
      {"make-model", "--family", family, "--preset", "tiny", "--dtype", "f32", "--seed", "5", "--out", out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

std::unique_ptr<LocalModel> load(const std::string& dir) {
  StageOptions so;
  so.slots = kSlots;
  so.max_ctx = kCtx;
  return local_model_load(dir, 1, so);
}

// A prefill of `lens[s]` rows for each slot s, logits for each slot's last row; mlp: one row of
// numbers per slot.
struct Step {
  TokenBatch batch;
  OwnedTensor in;
};

Step make_step(const ModelSpec& spec, const std::vector<int>& lens, std::mt19937& rng) {
  Step st;
  const bool mlp = spec.family == Family::Mlp;
  for (size_t s = 0; s < lens.size(); ++s) {
    const int n = mlp ? 1 : lens[s];
    for (int p = 0; p < n; ++p) {
      st.batch.tokens.push_back(static_cast<int32_t>(rng() % static_cast<unsigned>(mlp ? 1 : spec.vocab_size)));
      st.batch.slots.push_back(static_cast<int32_t>(s));
      st.batch.positions.push_back(p);
    }
    st.batch.logit_rows.push_back(static_cast<int32_t>(st.batch.slots.size() - 1));
  }
  if (mlp) {
    st.in = OwnedTensor(Shape{st.batch.rows(), spec.input_size});
    std::uniform_real_distribution<float> u(-1, 1);
    for (int64_t i = 0; i < st.in.view.numel(); ++i) st.in.f32()[i] = u(rng);
  }
  return st;
}

std::vector<float> run(LocalModel& m, const Step& st) {
  OwnedTensor out;
  m.stage->forward(m.ctx(), st.batch, st.in.view, out);
  return std::vector<float>(out.f32(), out.f32() + out.view.numel());
}

class ReserveTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReserveTest, LargerBatchesNeverGrowScratchAndResultsAreUnchanged) {
  test::TempDir dir;
  const std::string path = make_model(dir, GetParam());
  auto reserved = load(path), plain = load(path);
  const bool mlp = reserved->spec.family == Family::Mlp;
  const int64_t max_rows = kSlots * (mlp ? 1 : kCtx);
  reserved->stage->reserve(reserved->ctx(), max_rows, kCtx);
  const uint64_t committed = reserved->stage->scratch_bytes();
  ASSERT_GT(committed, 0u);

  std::mt19937 rng(17);
  std::uniform_int_distribution<int> len(1, static_cast<int>(kCtx));
  uint64_t plain_first = 0;
  for (int step = 0; step < 12; ++step) {
    // The first step is small and the last the largest possible, so the plain stage must grow.
    const std::vector<int> lens = step == 0    ? std::vector<int>{1, 1}
                                  : step == 11 ? std::vector<int>{static_cast<int>(kCtx), static_cast<int>(kCtx)}
                                               : std::vector<int>{len(rng), len(rng)};
    const Step st = make_step(reserved->spec, lens, rng);
    EXPECT_EQ(run(*reserved, st), run(*plain, st)) << "step " << step;
    EXPECT_EQ(reserved->stage->scratch_bytes(), committed) << "step " << step;
    if (step == 0) plain_first = plain->stage->scratch_bytes();
  }
  if (!mlp) {
    EXPECT_GT(plain->stage->scratch_bytes(), plain_first);  // growth is real without reserve
  }
  EXPECT_LE(plain->stage->scratch_bytes(), committed);  // and reserve covered the largest batch
}

INSTANTIATE_TEST_SUITE_P(Families, ReserveTest, ::testing::Values("llama", "gpt2", "mlp"));

}  // namespace
}  // namespace ps
