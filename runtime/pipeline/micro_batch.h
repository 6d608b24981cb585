// A micro-batch (runtime/engine/batch.h) as it travels down a pipeline: its rows (slot and
// position of each), the rows that produce logits, and per sequence its request index and
// sampling settings. Token ids stay on the first stage: only the embedding reads them, later
// stages receive activations.
//
// On the wire (through the Transport, which has no tags: the three messages of a micro-batch
// are posted back to back and match in order):
//   1. header  int32[kMbHeaderInts] = {kMbMagic, rows, seqs, width, flags}
//   2. meta    int32[mb_meta_ints(header)] = slots[rows], positions[rows], then per sequence
//              {request, logit_row, temperature bits, top_k, top_p bits, seed lo, seed hi,
//               request hash lo, request hash hi, position}
//   3. activation f32[rows, width]
// Empty micro-batches (rows = 0) send only the header. Every field is validated on receipt.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/engine/batch.h"

namespace ps {

constexpr int kMbHeaderInts = 5;
constexpr int32_t kMbMagic = 0x50534d42;  // "PSMB"
constexpr int kMbSeqInts = 10;

struct MbHeader {
  int32_t rows = 0, seqs = 0, width = 0;
  bool last_round = false;
};

std::array<int32_t, kMbHeaderInts> mb_header_encode(const MicroBatch& mb, int64_t width);
// Runtime error naming `from` (e.g. "rank 1") when the header is malformed or exceeds the limits.
MbHeader mb_header_decode(std::span<const int32_t> h, int64_t max_rows, int64_t expected_width, const std::string& from);
int64_t mb_meta_ints(const MbHeader& h);
std::vector<int32_t> mb_meta_encode(const MicroBatch& mb);
// Fills mb (not its tokens) from the meta; validates slots < max_slots, positions < max_ctx, rows.
void mb_meta_decode(std::span<const int32_t> meta, const MbHeader& h, int max_slots, int64_t max_ctx,
                    const std::string& from, MicroBatch& mb);

}  // namespace ps
