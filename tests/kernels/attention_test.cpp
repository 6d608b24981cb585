// kv_store + attention over a slotted cache: ragged prefill/decode mixes and grouped-query heads
// against a naive double loop that keeps its own copy of K and V per (slot, position).
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "kernels/ops.h"
#include "kernels/kernel_test_util.h"

namespace ps::test {
namespace {

struct Dims {
  int64_t slots, max_ctx, heads, kv_heads, head_dim;
  int64_t kv_row() const { return kv_heads * head_dim; }
};

// The test's model of a cache: (slot, position) -> (k row, v row).
using RefCache = std::map<std::pair<int32_t, int32_t>, std::pair<std::vector<float>, std::vector<float>>>;

struct Batch {
  std::vector<int32_t> slots, positions;
};

class AttentionTest : public ThreadsTest {
 protected:
  Dims d_{};
  std::vector<float> k_cache_, v_cache_;
  RefCache ref_;
  uint64_t seed_ = 100;

  void make_cache(Dims d) {
    d_ = d;
    const auto n = static_cast<size_t>(d.slots * d.max_ctx * d.kv_row());
    // Never-written entries are NaN: they would poison any result that read them.
    k_cache_.assign(n, std::numeric_limits<float>::quiet_NaN());
    v_cache_.assign(n, std::numeric_limits<float>::quiet_NaN());
    ref_.clear();
  }
  ops::KvLayerView cache() {
    const Shape s{d_.slots, d_.max_ctx, d_.kv_heads, d_.head_dim};
    return {view_of(k_cache_, s), view_of(v_cache_, s)};
  }

  // Stores random K/V for the batch's rows, in the cache and in the reference.
  void store(const Batch& b) {
    const auto n = static_cast<int64_t>(b.slots.size());
    auto k = random_floats(static_cast<size_t>(n * d_.kv_row()), ++seed_);
    auto v = random_floats(k.size(), ++seed_);
    ops::kv_store(ctx(), cache(), view_of(k, Shape{n, d_.kv_row()}), view_of(v, Shape{n, d_.kv_row()}), b.slots,
                  b.positions);
    for (int64_t i = 0; i < n; ++i) {
      auto row = [&](const std::vector<float>& src) {
        return std::vector<float>(src.begin() + i * d_.kv_row(), src.begin() + (i + 1) * d_.kv_row());
      };
      ref_[{b.slots[static_cast<size_t>(i)], b.positions[static_cast<size_t>(i)]}] = {row(k), row(v)};
    }
  }

  std::vector<float> attend(const Batch& b, const std::vector<float>& q, float scale) {
    const auto n = static_cast<int64_t>(b.slots.size());
    const Shape s{n, d_.heads, d_.head_dim};
    std::vector<float> out(q.size());
    std::vector<float> qc = q;
    ops::attention(ctx(), view_of(qc, s), cache(), b.slots, b.positions, scale, view_of(out, s));
    return out;
  }

  // softmax_t(scale * q.k_t) . v_t over t = 0..p of the row's slot, head h reading kv head h / group.
  std::vector<double> reference(const Batch& b, const std::vector<float>& q, float scale) const {
    std::vector<double> out(q.size());
    const int64_t group = d_.heads / d_.kv_heads;
    for (size_t i = 0; i < b.slots.size(); ++i)
      for (int64_t h = 0; h < d_.heads; ++h) {
        const float* qh = &q[(i * static_cast<size_t>(d_.heads) + static_cast<size_t>(h)) * static_cast<size_t>(d_.head_dim)];
        const int64_t kvh = h / group;
        std::vector<double> s;
        for (int32_t t = 0; t <= b.positions[i]; ++t) {
          const auto& kv = ref_.at({b.slots[i], t});
          double dot = 0;
          for (int64_t j = 0; j < d_.head_dim; ++j) dot += qh[j] * static_cast<double>(kv.first[static_cast<size_t>(kvh * d_.head_dim + j)]);
          s.push_back(dot * scale);
        }
        double m = -std::numeric_limits<double>::infinity(), z = 0;
        for (double x : s) m = std::max(m, x);
        for (double& x : s) z += (x = std::exp(x - m));
        for (int64_t j = 0; j < d_.head_dim; ++j) {
          double acc = 0;
          for (int32_t t = 0; t <= b.positions[i]; ++t)
            acc += s[static_cast<size_t>(t)] / z * ref_.at({b.slots[i], t}).second[static_cast<size_t>(kvh * d_.head_dim + j)];
          out[(i * static_cast<size_t>(d_.heads) + static_cast<size_t>(h)) * static_cast<size_t>(d_.head_dim) + static_cast<size_t>(j)] = acc;
        }
      }
    return out;
  }
};
INSTANTIATE_THREADS(AttentionTest);

Batch prefill(int32_t slot, int32_t from, int32_t to) {
  Batch b;
  for (int32_t p = from; p < to; ++p) {
    b.slots.push_back(slot);
    b.positions.push_back(p);
  }
  return b;
}

Batch concat(Batch a, const Batch& b) {
  a.slots.insert(a.slots.end(), b.slots.begin(), b.slots.end());
  a.positions.insert(a.positions.end(), b.positions.begin(), b.positions.end());
  return a;
}

TEST_P(AttentionTest, KvStoreWritesOnlyItsRows) {
  make_cache({3, 5, 2, 2, 3});
  const Batch b{{2, 0}, {4, 1}};
  store(b);
  size_t written = 0;
  for (size_t i = 0; i < k_cache_.size(); ++i) written += !std::isnan(k_cache_[i]);
  EXPECT_EQ(written, 2u * 6u);
  for (size_t r = 0; r < 2; ++r) {
    const size_t at = static_cast<size_t>((b.slots[r] * 5 + b.positions[r]) * 6);
    const auto& kv = ref_.at({b.slots[r], b.positions[r]});
    EXPECT_EQ(std::vector<float>(k_cache_.begin() + static_cast<long>(at), k_cache_.begin() + static_cast<long>(at + 6)), kv.first);
    EXPECT_EQ(std::vector<float>(v_cache_.begin() + static_cast<long>(at), v_cache_.begin() + static_cast<long>(at + 6)), kv.second);
  }
}

TEST_P(AttentionTest, RaggedPrefillAndDecodeWithGqaMatchReference) {
  for (int64_t head_dim : {1, 3, 17, 64}) {
    make_cache({3, 40, 4, 2, head_dim});
    store(prefill(0, 0, 9));  // slot 0 already holds 9 tokens
    // One batch: slot 2 prefills 6 rows, slot 0 decodes its 10th token, slot 1 its first.
    const Batch b = concat(concat(prefill(2, 0, 6), Batch{{0}, {9}}), Batch{{1}, {0}});
    store(b);
    const auto q = random_floats(static_cast<size_t>(8 * 4 * head_dim), 51, -2.0f, 2.0f);
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    EXPECT_LT(rel_error(attend(b, q, scale), reference(b, q, scale)), 1e-5) << "head_dim=" << head_dim;
  }
}

TEST_P(AttentionTest, LongContextMatchesReference) {
  make_cache({2, 300, 8, 1, 32});  // multi-query: every head reads kv head 0
  store(prefill(1, 0, 300));
  const Batch b = concat(prefill(1, 250, 300), Batch{{1}, {299}});
  const auto q = random_floats(static_cast<size_t>(51 * 8 * 32), 52, -3.0f, 3.0f);
  EXPECT_LT(rel_error(attend(b, q, 0.2f), reference(b, q, 0.2f)), 1e-5);
}

TEST_P(AttentionTest, RowResultDoesNotDependOnTheBatch) {
  // A row gives bit-identical output in a prefill batch and alone as a decode step: the property
  // that makes decoding with the cache reproduce a full recompute.
  make_cache({2, 16, 4, 2, 16});
  const Batch b = concat(prefill(0, 0, 7), prefill(1, 0, 3));
  store(b);
  const auto q = random_floats(static_cast<size_t>(10 * 4 * 16), 53);
  const auto all = attend(b, q, 0.25f);
  const size_t row = 4 * 16;
  for (size_t i = 0; i < b.slots.size(); ++i) {
    const Batch one{{b.slots[i]}, {b.positions[i]}};
    const std::vector<float> qi(q.begin() + static_cast<long>(i * row), q.begin() + static_cast<long>((i + 1) * row));
    const auto alone = attend(one, qi, 0.25f);
    EXPECT_EQ(alone, std::vector<float>(all.begin() + static_cast<long>(i * row), all.begin() + static_cast<long>((i + 1) * row)))
        << "row " << i;
  }
}

TEST_P(AttentionTest, ThreadCountDoesNotChangeBits) {
  make_cache({2, 64, 4, 4, 8});
  const Batch b = concat(prefill(0, 0, 64), prefill(1, 0, 5));
  store(b);
  const auto q = random_floats(static_cast<size_t>(69 * 4 * 8), 54);
  const auto here = attend(b, q, 0.3f);
  CpuContext single(1), quad(4);
  std::vector<float> qc = q, out1(q.size()), out4(q.size());
  const Shape s{69, 4, 8};
  ops::attention(single.ctx, view_of(qc, s), cache(), b.slots, b.positions, 0.3f, view_of(out1, s));
  ops::attention(quad.ctx, view_of(qc, s), cache(), b.slots, b.positions, 0.3f, view_of(out4, s));
  EXPECT_EQ(here, out1);
  EXPECT_EQ(here, out4);
}

TEST_P(AttentionTest, RejectsBadGeometry) {
  make_cache({2, 8, 3, 2, 4});  // 3 heads over 2 kv heads
  store(Batch{{0}, {0}});
  std::vector<float> q(3 * 4), out(3 * 4);
  const std::vector<int32_t> slot{0}, pos{0}, past_end{8}, bad_slot{2};
  EXPECT_THROW(ops::attention(ctx(), view_of(q, Shape{1, 3, 4}), cache(), slot, pos, 1.0f, view_of(out, Shape{1, 3, 4})),
               Error);
  make_cache({2, 8, 4, 2, 4});
  std::vector<float> q4(4 * 4), out4(4 * 4);
  EXPECT_THROW(ops::attention(ctx(), view_of(q4, Shape{1, 4, 4}), cache(), slot, past_end, 1.0f, view_of(out4, Shape{1, 4, 4})),
               Error);
  EXPECT_THROW(ops::attention(ctx(), view_of(q4, Shape{1, 4, 4}), cache(), bad_slot, pos, 1.0f, view_of(out4, Shape{1, 4, 4})),
               Error);
  std::vector<float> k(8);
  EXPECT_THROW(ops::kv_store(ctx(), cache(), view_of(k, Shape{1, 8}), view_of(k, Shape{1, 8}), slot, past_end), Error);
}

}  // namespace
}  // namespace ps::test
