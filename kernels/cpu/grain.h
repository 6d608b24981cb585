// How finely the CPU ops split rows over the ThreadPool.
#pragma once

#include <cstdint>

namespace ps::cpu {

// Rows per parallel chunk so that a chunk does at least ~16K elements of work: below that, waking
// a thread costs more than it saves.
inline int64_t grain_for(int64_t elems_per_row) {
  constexpr int64_t kMinChunkElems = int64_t{1} << 14;
  return elems_per_row >= kMinChunkElems ? 1 : kMinChunkElems / (elems_per_row > 0 ? elems_per_row : 1);
}

}  // namespace ps::cpu
