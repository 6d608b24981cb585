// File helpers. Output files are written whole or not at all: write to a temporary file in the
// same directory, fsync, then rename over the target (rename is atomic within a filesystem).
#pragma once

#include <string>
#include <string_view>

namespace ps {

std::string file_read_all(const std::string& path);  // InvalidInput naming the file if unreadable
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
