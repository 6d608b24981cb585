// libFuzzer target: the safetensors header parser over arbitrary bytes (the whole file).
// On success it checks what the parser promises its callers (runtime/weights/safetensors.h):
// every tensor lies inside the data section, the list is sorted by offset without overlaps, and a
// loadable tensor's byte count is its element count times its dtype's size.
#include <cstddef>
#include <cstdint>
#include <span>

#include "runtime/weights/safetensors.h"
#include "tests/fuzz/fuzz_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr const char* kTarget = "fuzz_safetensors";
  const std::string file = "fuzz.safetensors";
  ps::SafetensorsHeader h;
  if (!ps::fuzz::accepts(kTarget, file, [&] { h = ps::safetensors_parse(std::span(data, size), size, file); })) return 0;

  FUZZ_CHECK(kTarget, h.data_offset >= 8 && h.data_offset <= size);
  const uint64_t data_bytes = size - h.data_offset;
  uint64_t prev_end = 0;
  for (const ps::SafetensorsEntry& t : h.tensors) {
    FUZZ_CHECK(kTarget, !t.name.empty());
    FUZZ_CHECK(kTarget, t.begin <= t.end && t.end <= data_bytes);
    FUZZ_CHECK(kTarget, t.begin >= prev_end);  // sorted by offset, no two tensors share bytes
    prev_end = t.end;
    if (t.unsupported.empty()) {
      FUZZ_CHECK(kTarget, t.shape.rank >= 0 && t.shape.rank <= ps::kMaxDims);
      uint64_t n = 1;
      for (int d = 0; d < t.shape.rank; ++d) {
        FUZZ_CHECK(kTarget, t.shape[d] >= 0);
        FUZZ_CHECK(kTarget, !__builtin_mul_overflow(n, static_cast<uint64_t>(t.shape[d]), &n));
      }
      FUZZ_CHECK(kTarget, n * ps::dtype_size(t.dtype) == t.nbytes());
    }
  }
  return 0;
}
