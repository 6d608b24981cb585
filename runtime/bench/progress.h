// Progress of long work on a terminal: one status line rewritten in place when the stream is a
// terminal, plain log lines otherwise (a CI log or a file has no use for carriage returns).
#pragma once

#include <cstdio>
#include <string>

namespace ps {

struct ProgressLine {
  std::FILE* out = stderr;
  bool tty = false;
};

// Whether `out` is a terminal decides the style.
ProgressLine progress_open(std::FILE* out);
// The current status: rewrites the line on a terminal, prints a line otherwise.
void progress_update(const ProgressLine& p, const std::string& text);
// A line that stays (clears the status line first on a terminal).
void progress_log(const ProgressLine& p, const std::string& text);
// Clears the status line (terminal) before other output.
void progress_clear(const ProgressLine& p);

}  // namespace ps
