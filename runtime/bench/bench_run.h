// The pieces of `pipeshard bench` that touch processes and files: running one `pipeshard run`
// with its output captured to a log, and checking a run's results against the reference run.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "partitioner/workload.h"

namespace ps {

// Runs argv (argv[0] a path) with stdout and stderr appended to `log_path`, waits, and returns
// the exit code (128 + signal when killed). The child shares our process group, so a Ctrl-C at
// the terminal stops it with us. Runtime error when it cannot be started.
int bench_run_logged(const std::vector<std::string>& argv, const std::string& log_path);

// The last `n` lines of a log, for an error message.
std::string bench_log_tail(const std::string& log_path, size_t n);

// A results file's lines (empty when the file is missing).
std::vector<std::string> bench_read_lines(const std::string& path);

// Indices of the results that differ from the reference, by exact line comparison; a missing
// or extra line counts as wrong. Added to `wrong` (several runs of one configuration share it).
void bench_diff_results(const std::vector<std::string>& reference, const std::vector<std::string>& got,
                        std::set<size_t>& wrong);

// Tokens a run's results stand for: the generated tokens (the output_ids of each line) in
// generate mode, prompt_len per result in forward mode.
int64_t bench_result_tokens(const std::vector<std::string>& lines, Mode mode, int64_t prompt_len);

}  // namespace ps
