// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON, then the data section. The JSON maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets within the data section), plus an
// optional "__metadata__" object of strings.
//
// The parser is a pure function over bytes because it is the first thing that sees an untrusted
// file: everything is validated before anything is used, sizes are bounded before allocation,
// and every error is ps::Error(InvalidInput) "<file>: <what>" naming the tensor or field.
//
// Dtype policy: the header may list tensors of any dtype the safetensors format defines (I64, U8,
// F64, ...; real checkpoints carry such buffers, e.g. masks or position ids), and of rank above 4.
// They are fully validated (offsets, byte counts, overlap) and listed with `unsupported` saying
// why; only loading one is an error. An unknown dtype string is an error at parse time.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/dtype.h"
#include "runtime/core/tensor.h"

namespace ps {

// Bound on the JSON header (the Rust reference implementation uses the same), checked before
// anything is allocated.
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;  // meaningful only when `unsupported` is empty
  Shape shape;               // rank 0 when the tensor's rank exceeds kMaxDims (then unsupported)
  uint64_t begin = 0, end = 0;  // byte offsets within the data section
  // Empty for a tensor we can load; else why not ("dtype I64", "rank 5"): listed, never loadable.
  std::string unsupported;

  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> tensors;  // sorted by `begin` (file layout order)
  std::vector<std::pair<std::string, std::string>> metadata;  // sorted by key
  uint64_t data_offset = 0;  // 8 + header length: where the data section starts in the file
};

// `file_bytes` is the beginning of the file (at least its first 8 + N bytes, or all of it),
// `file_size` the whole file's size; `file` names it in errors.
SafetensorsHeader safetensors_parse(std::span<const uint8_t> file_bytes, uint64_t file_size, const std::string& file);

struct SafetensorsTensorOut {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  const void* data = nullptr;  // numel * dtype_size bytes (may be null when numel is 0)
};

// Writes a safetensors file atomically (ps::AtomicFile): the header is padded with spaces to a
// multiple of 8 bytes so the data section is 8-aligned; tensors are laid out in the given order.
// Duplicate or empty names, the reserved name "__metadata__" and negative dims are InvalidInput.
void safetensors_write(const std::string& path, const std::vector<SafetensorsTensorOut>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace ps
