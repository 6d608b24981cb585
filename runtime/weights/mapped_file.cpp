#include "runtime/weights/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "runtime/core/error.h"
#include "runtime/core/files.h"

namespace ps {

MappedFile MappedFile::open(const std::string& path) {
  // Opened without blocking and refused unless a regular file: a FIFO would hang, a device has no
  // size to map. No size cap: the bytes are mapped, not read.
  const InputFile f = file_open_input(path);
  MappedFile m;
  m.path_ = path;
  m.size_ = f.size();
  // mmap of length 0 is EINVAL; an empty file simply has no bytes (the parser then rejects it).
  if (m.size_ > 0) {
    void* p = ::mmap(nullptr, static_cast<size_t>(m.size_), PROT_READ, MAP_PRIVATE, f.fd(), 0);
    if (p == MAP_FAILED) fail_runtime(path, ": mmap of ", m.size_, " bytes failed: ", std::strerror(errno));
    m.data_ = static_cast<const uint8_t*>(p);
  }
  // f closes the descriptor; the mapping keeps the file alive
  return m;
}

MappedFile::~MappedFile() { unmap(); }

MappedFile::MappedFile(MappedFile&& o) noexcept
    : path_(std::move(o.path_)), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    unmap();
    path_ = std::move(o.path_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

void MappedFile::unmap() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), static_cast<size_t>(size_));
  data_ = nullptr;
  size_ = 0;
}

void MappedFile::advise(uint64_t offset, uint64_t length, int advice) const {
  if (!data_ || offset >= size_) return;
  length = std::min(length, size_ - offset);
  // madvise wants a page-aligned start: round down, widening the range by the remainder.
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset / page * page;
  ::madvise(const_cast<uint8_t*>(data_) + start, static_cast<size_t>(length + (offset - start)), advice);
}

void MappedFile::advise_willneed(uint64_t offset, uint64_t length) const { advise(offset, length, MADV_WILLNEED); }
void MappedFile::advise_dontneed(uint64_t offset, uint64_t length) const { advise(offset, length, MADV_DONTNEED); }

}  // namespace ps
