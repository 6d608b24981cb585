// A read-only memory mapping of a whole file. Checkpoints are mapped rather than read so that a
// pipeline stage only ever touches the pages of its own layers' tensors: the kernel pages them in
// on first use, and the rest of the file costs address space only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace ps {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps `path` PROT_READ / MAP_PRIVATE. InvalidInput naming the file if it cannot be opened or is
  // not a regular file; Runtime if mmap itself fails. An empty file is valid: data() is nullptr.
  static MappedFile open(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, static_cast<size_t>(size_)}; }
  const std::string& path() const { return path_; }

  // Page-cache hints for [offset, offset + length) (clamped to the file); errors are ignored,
  // they are hints. `willneed` starts read-ahead; `dontneed` lets the kernel drop the pages.
  void advise_willneed(uint64_t offset, uint64_t length) const;
  void advise_dontneed(uint64_t offset, uint64_t length) const;

 private:
  void advise(uint64_t offset, uint64_t length, int advice) const;
  void unmap();

  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace ps
