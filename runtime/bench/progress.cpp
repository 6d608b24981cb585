#include "runtime/bench/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

namespace ps {

namespace {

// The terminal's width, so that a long status never wraps (a wrapped line cannot be rewritten).
size_t columns(std::FILE* out) {
  winsize ws{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1) return ws.ws_col - 1;
  return 79;
}

}  // namespace

ProgressLine progress_open(std::FILE* out) { return {out, ::isatty(::fileno(out)) == 1}; }

void progress_update(const ProgressLine& p, const std::string& text) {
  if (!p.tty) {
    std::fprintf(p.out, "%s\n", text.c_str());
  } else {
    const std::string shown = text.substr(0, columns(p.out));
    std::fprintf(p.out, "\r\033[K%s", shown.c_str());  // \033[K: erase the rest of the old line
  }
  std::fflush(p.out);
}

void progress_clear(const ProgressLine& p) {
  if (p.tty) std::fputs("\r\033[K", p.out);
  std::fflush(p.out);
}

void progress_log(const ProgressLine& p, const std::string& text) {
  progress_clear(p);
  std::fprintf(p.out, "%s\n", text.c_str());
  std::fflush(p.out);
}

}  // namespace ps
