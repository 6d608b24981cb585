#include "runtime/pipeline/micro_batch.h"

#include <cstring>

namespace ps {

namespace {

int32_t f32_bits(float f) {
  int32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

float bits_f32(int32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

int32_t lo(uint64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }
int32_t hi(uint64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v >> 32)); }
uint64_t join(int32_t l, int32_t h) {
  return static_cast<uint64_t>(static_cast<uint32_t>(l)) | (static_cast<uint64_t>(static_cast<uint32_t>(h)) << 32);
}

}  // namespace

std::array<int32_t, kMbHeaderInts> mb_header_encode(const MicroBatch& mb, int64_t width) {
  return {kMbMagic, static_cast<int32_t>(mb.rows()), static_cast<int32_t>(mb.seqs.size()),
          static_cast<int32_t>(width), mb.last_round ? 1 : 0};
}

MbHeader mb_header_decode(std::span<const int32_t> h, int64_t max_rows, int64_t expected_width,
                          const std::string& from) {
  if (h.size() != kMbHeaderInts || h[0] != kMbMagic)
    fail_runtime("micro-batch header from ", from, ": bad magic (the pipeline's messages are out of step)");
  MbHeader out{h[1], h[2], h[3], h[4] == 1};
  if (out.rows < 0 || out.rows > max_rows || out.seqs < 0 || out.seqs > out.rows || (h[4] & ~1) != 0)
    fail_runtime("micro-batch header from ", from, ": rows ", out.rows, ", sequences ", out.seqs,
                 " outside the limits (rows <= ", max_rows, ")");
  if (out.rows > 0 && out.width != expected_width)
    fail_runtime("micro-batch header from ", from, ": activation width ", out.width, ", this stage expects ",
                 expected_width, " (do the stages' layer ranges meet?)");
  return out;
}

int64_t mb_meta_ints(const MbHeader& h) { return 2 * static_cast<int64_t>(h.rows) + kMbSeqInts * static_cast<int64_t>(h.seqs); }

std::vector<int32_t> mb_meta_encode(const MicroBatch& mb) {
  std::vector<int32_t> m;
  m.reserve(static_cast<size_t>(2 * mb.rows() + kMbSeqInts * static_cast<int64_t>(mb.seqs.size())));
  m.insert(m.end(), mb.batch.slots.begin(), mb.batch.slots.end());
  m.insert(m.end(), mb.batch.positions.begin(), mb.batch.positions.end());
  for (size_t i = 0; i < mb.seqs.size(); ++i) {
    const SeqInfo& s = mb.seqs[i];
    const int32_t row = mb.batch.logit_rows[i];
    m.insert(m.end(), {s.request, row, f32_bits(s.sampling.temperature), s.sampling.top_k, f32_bits(s.sampling.top_p),
                       lo(s.sampling.seed), hi(s.sampling.seed), lo(s.key.request_hash), hi(s.key.request_hash),
                       static_cast<int32_t>(s.key.position)});
  }
  return m;
}

void mb_meta_decode(std::span<const int32_t> meta, const MbHeader& h, int max_slots, int64_t max_ctx,
                    const std::string& from, MicroBatch& mb) {
  PS_CHECK(static_cast<int64_t>(meta.size()) == mb_meta_ints(h));
  mb.clear();
  mb.last_round = h.last_round;
  const auto rows = static_cast<size_t>(h.rows);
  mb.batch.slots.assign(meta.begin(), meta.begin() + static_cast<std::ptrdiff_t>(rows));
  mb.batch.positions.assign(meta.begin() + static_cast<std::ptrdiff_t>(rows),
                            meta.begin() + static_cast<std::ptrdiff_t>(2 * rows));
  for (size_t r = 0; r < rows; ++r) {
    if (mb.batch.slots[r] < 0 || mb.batch.slots[r] >= max_slots || mb.batch.positions[r] < 0 ||
        mb.batch.positions[r] >= max_ctx)
      fail_runtime("micro-batch from ", from, ": row ", r, " has slot ", mb.batch.slots[r], ", position ",
                   mb.batch.positions[r], " (limits ", max_slots, " slots, ", max_ctx, " positions)");
  }
  const int32_t* p = meta.data() + 2 * rows;
  for (int32_t i = 0; i < h.seqs; ++i, p += kMbSeqInts) {
    SeqInfo s;
    s.request = p[0];
    if (p[1] < 0 || p[1] >= h.rows) fail_runtime("micro-batch from ", from, ": logit row ", p[1], " of ", h.rows);
    mb.batch.logit_rows.push_back(p[1]);
    s.sampling.temperature = bits_f32(p[2]);
    s.sampling.top_k = p[3];
    s.sampling.top_p = bits_f32(p[4]);
    s.sampling.seed = join(p[5], p[6]);
    s.key = {s.sampling.seed, join(p[7], p[8]), p[9]};
    mb.seqs.push_back(s);
  }
}

}  // namespace ps
