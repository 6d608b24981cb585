#include "runtime/launch/log_lines.h"

#include "runtime/core/error.h"

namespace ps {

std::vector<std::string> line_buffer_feed(LineBuffer& b, std::string_view chunk, size_t max_line) {
  PS_CHECK(max_line > 0);
  std::vector<std::string> lines;
  for (char c : chunk) {
    if (c == '\n') {
      lines.push_back(std::move(b.pending));
      b.pending.clear();
      continue;
    }
    b.pending.push_back(c);
    if (b.pending.size() == max_line) {
      lines.push_back(std::move(b.pending));
      b.pending.clear();
    }
  }
  return lines;
}

std::optional<std::string> line_buffer_flush(LineBuffer& b) {
  if (b.pending.empty()) return std::nullopt;
  std::string last = std::move(b.pending);
  b.pending.clear();
  return last;
}

std::string rank_prefixed(int rank, const std::vector<std::string>& lines) {
  const std::string prefix = str("[rank ", rank, "] ");
  std::string out;
  for (const auto& l : lines) {
    out += prefix;
    out += l;
    out += '\n';
  }
  return out;
}

}  // namespace ps
