// Whole lines out of a worker's output stream. The launcher reads each worker's stdout and
// stderr in whatever chunks the pipe gives and prints only complete lines, each prefixed with the
// rank, in one write: lines of different ranks never interleave mid-line.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ps {

// The unfinished tail of one stream.
struct LineBuffer {
  std::string pending;
};

// A line longer than this is cut into pieces of this size, so a worker that never writes a
// newline cannot make the launcher buffer without bound.
constexpr size_t kMaxLogLine = 64 * 1024;

// Appends `chunk` and returns the complete lines it finishes, without their '\n'.
std::vector<std::string> line_buffer_feed(LineBuffer& b, std::string_view chunk, size_t max_line = kMaxLogLine);
// At the end of the stream: the unfinished last line, if there is one.
std::optional<std::string> line_buffer_flush(LineBuffer& b);

// "[rank 3] " + line + "\n" for each line, concatenated.
std::string rank_prefixed(int rank, const std::vector<std::string>& lines);

}  // namespace ps
