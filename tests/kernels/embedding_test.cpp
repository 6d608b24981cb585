// embedding: gather (and accumulate) rows of a table; ids are checked.
#include "kernels/ops.h"
#include "kernels/kernel_test_util.h"

namespace ps::test {
namespace {

class EmbeddingTest : public ThreadsTest {};
INSTANTIATE_THREADS(EmbeddingTest);

TEST_P(EmbeddingTest, GathersAndAccumulates) {
  const int64_t vocab = 23;
  for (int64_t hidden : {1, 3, 17, 4097}) {
    auto table = random_floats(static_cast<size_t>(vocab * hidden), 21);
    const std::vector<int32_t> ids{5, 0, 22, 5, 7, 1, 13, 22, 3};  // repeats and both ends
    const auto n = static_cast<int64_t>(ids.size());
    auto base = random_floats(static_cast<size_t>(n * hidden), 22);
    std::vector<double> gathered(base.size()), summed(base.size());
    for (size_t i = 0; i < ids.size(); ++i)
      for (int64_t j = 0; j < hidden; ++j) {
        const size_t o = i * static_cast<size_t>(hidden) + static_cast<size_t>(j);
        gathered[o] = table[static_cast<size_t>(ids[i] * hidden + j)];
        summed[o] = gathered[o] + base[o];
      }
    std::vector<float> out(base.size(), -7.0f);
    ops::embedding(ctx(), view_of(table, Shape{vocab, hidden}), ids, view_of(out, Shape{n, hidden}), false);
    EXPECT_EQ(rel_error(out, gathered), 0.0) << "hidden=" << hidden;
    ops::embedding(ctx(), view_of(table, Shape{vocab, hidden}), ids, view_of(base, Shape{n, hidden}), true);
    EXPECT_LT(rel_error(base, summed), 1e-7) << "hidden=" << hidden;
  }
}

TEST_P(EmbeddingTest, IdOutsideVocabularyIsInputError) {
  auto table = random_floats(4 * 2, 23);
  std::vector<float> out(2 * 2);
  for (int32_t bad : {4, -1}) {
    const std::vector<int32_t> ids{1, bad};
    try {
      ops::embedding(ctx(), view_of(table, Shape{4, 2}), ids, view_of(out, Shape{2, 2}), false);
      FAIL() << "no error for id " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
      EXPECT_NE(std::string(e.what()).find("token id " + std::to_string(bad) + " (row 1)"), std::string::npos)
          << e.what();
    }
  }
}

TEST_P(EmbeddingTest, OutputShapeIsChecked) {
  auto table = random_floats(4 * 2, 24);
  std::vector<float> out(3 * 2);
  const std::vector<int32_t> ids{0, 1};
  EXPECT_THROW(ops::embedding(ctx(), view_of(table, Shape{4, 2}), ids, view_of(out, Shape{3, 2}), false), Error);
}

}  // namespace
}  // namespace ps::test
