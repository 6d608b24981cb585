// File helpers. Output files are written whole or not at all: write to a temporary file in the
// same directory, fsync, then rename over the target (rename is atomic within a filesystem).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ps {

// ---- reading --------------------------------------------------------------------------------
// Every file we read goes through file_open_input: it opens with O_NONBLOCK (a FIFO with no writer
// would otherwise hang the open for ever, whatever --timeout-seconds says) and refuses anything
// that is not a regular file -- a FIFO, device, socket or directory is InvalidInput (exit 2)
// naming the file and what it is. Symbolic links are followed: a link to a regular file is fine.

// The most a read may hold, per kind of file; checked from fstat before any byte is read (and
// again while reading, should the file grow), so an oversized input fails at once naming the
// file, its size and the cap instead of exhausting memory.
struct FileCap {
  const char* kind;  // named in the message, e.g. "JSON file"
  uint64_t max_bytes;
};
inline constexpr uint64_t kFileMiB = uint64_t{1} << 20;
// config.json, plans, cluster specs, profiles, bench records: small JSON (a profile of a 128-layer
// model is ~100 KB); 16 MiB is two orders of magnitude of headroom.
inline constexpr FileCap kJsonFileCap{"JSON file", 16 * kFileMiB};
// model.safetensors.index.json: ~80 bytes per tensor; the largest public checkpoints have ~100k
// tensors (~8 MB), so 64 MiB.
inline constexpr FileCap kIndexFileCap{"checkpoint index", 64 * kFileMiB};
// tokenizer.json / vocabularies (from the tokenizer issue on): 10-35 MB for 150k-256k vocabularies.
inline constexpr FileCap kTokenizerFileCap{"tokenizer file", 256 * kFileMiB};
// Request files are read line by line; one line holds one prompt: 1M token ids at <= 8 bytes
// each is 8 MB, so 64 MiB per line. The file as a whole has no cap.
inline constexpr FileCap kRequestLineCap{"request line", 64 * kFileMiB};
// The results journal is our own output read back whole on resume/finish; every result of a run
// (100k generations of 1,000 tokens is ~600 MB) must fit, so the cap only stops a wrong file.
inline constexpr FileCap kJournalFileCap{"results journal", 4096 * kFileMiB};

// An open regular file for reading (blocking mode restored), closed when destroyed.
class InputFile {
 public:
  InputFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~InputFile();
  InputFile(InputFile&& o) noexcept : fd_(o.fd_), size_(o.size_) { o.fd_ = -1; }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  InputFile& operator=(InputFile&&) = delete;
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }  // st_size at open

 private:
  int fd_;
  uint64_t size_;
};

InputFile file_open_input(const std::string& path);  // InvalidInput naming the file and its type
// "a FIFO", "a character device", "a socket", "a directory", ... for an st_mode.
const char* file_type_name(unsigned mode);

// The whole file, at most cap.max_bytes (InvalidInput naming file, size and cap beyond that).
std::string file_read_all(const std::string& path, FileCap cap);
// Calls `line` with each line of the file (without its '\n'; a last line without one included)
// and its 1-based number, holding one line in memory at a time; a line over cap.max_bytes is
// InvalidInput naming the file, the line and the cap.
void file_read_lines(const std::string& path, FileCap cap,
                     const std::function<void(std::string_view line, int64_t number)>& line);

// ---- writing --------------------------------------------------------------------------------
void file_write_atomic(const std::string& path, std::string_view content);

// Writes into "<path>.tmp.<pid>" and renames it over `path` on commit(); a destroyed writer that
// was never committed removes its temporary file, so a failed command leaves nothing half-written.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes);
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

}  // namespace ps
