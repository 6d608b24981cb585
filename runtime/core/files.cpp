#include "runtime/core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/core/error.h"

namespace ps {

const char* file_type_name(unsigned mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

InputFile file_open_input(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer without end.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail_input(path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail_input(path, ": cannot stat: ", std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail_input(path, ": is ", file_type_name(st.st_mode), ", expected a regular file");
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    const int e = errno;
    ::close(fd);
    fail_input(path, ": cannot clear O_NONBLOCK: ", std::strerror(e));
  }
  return InputFile(fd, static_cast<uint64_t>(st.st_size));
}

namespace {

[[noreturn]] void fail_over_cap(const std::string& where, uint64_t size, FileCap cap, bool at_least) {
  fail_input(where, ": ", at_least ? "more than " : "", size, " bytes, over the ", cap.max_bytes / kFileMiB, " MiB cap for a ",
             cap.kind);
}

// Calls `chunk` with each block read from the file until its end.
template <class F>
void read_blocks(const std::string& path, const InputFile& f, F&& chunk) {
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(f.fd(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_input(path, ": read failed: ", std::strerror(errno));
    if (n == 0) return;
    chunk(std::string_view(buf, static_cast<size_t>(n)));
  }
}

}  // namespace

std::string file_read_all(const std::string& path, FileCap cap) {
  const InputFile f = file_open_input(path);
  if (f.size() > cap.max_bytes) fail_over_cap(path, f.size(), cap, false);
  std::string out;
  out.reserve(static_cast<size_t>(f.size()));
  read_blocks(path, f, [&](std::string_view b) {
    if (out.size() + b.size() > cap.max_bytes) fail_over_cap(path, cap.max_bytes, cap, true);  // it grew
    out.append(b);
  });
  return out;
}

void file_read_lines(const std::string& path, FileCap cap,
                     const std::function<void(std::string_view line, int64_t number)>& line) {
  const InputFile f = file_open_input(path);
  std::string pending;  // the current line so far
  int64_t number = 0;
  read_blocks(path, f, [&](std::string_view b) {
    for (;;) {
      const size_t nl = b.find('\n');
      const size_t take = nl == std::string_view::npos ? b.size() : nl;
      if (pending.size() + take > cap.max_bytes)
        fail_over_cap(path + ": line " + std::to_string(number + 1), cap.max_bytes, cap, true);
      pending.append(b.substr(0, take));
      if (nl == std::string_view::npos) return;
      line(pending, ++number);
      pending.clear();
      b.remove_prefix(nl + 1);
    }
  });
  if (!pending.empty()) line(pending, ++number);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_input(path_, ": cannot create: ", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::write(std::string_view bytes) {
  PS_CHECK(fd_ >= 0, "write after commit");
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_runtime(path_, ": write failed: ", std::strerror(errno));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void AtomicFile::commit() {
  PS_CHECK(fd_ >= 0, "commit twice");
  if (::fsync(fd_) != 0) fail_runtime(path_, ": fsync failed: ", std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp_.c_str());
    fail_runtime(path_, ": rename failed: ", std::strerror(e));
  }
}

void file_write_atomic(const std::string& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

}  // namespace ps
