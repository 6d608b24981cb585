// A small, strict command-line parser for the subcommands: `--name value`, `--name=value` and
// boolean `--flag`. Bad input is exit 2 (ps::Error InvalidInput) naming the flag and the value:
// unknown options (with a did-you-mean), an empty value, a stray word (no command takes
// positional arguments), integers with junk or outside the range the caller states (nothing
// wraps when narrowed), and floats that are not finite or outside their stated range.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ps::cli {

struct OptionSpec {
  std::string name;  // without the dashes
  bool takes_value = true;
  std::string help;
};

// Ranges several commands' flags share.
inline constexpr int kThreadsMax = 1024;                 // the thread pool's cap (runtime/core/thread_pool.cpp)
inline constexpr int64_t kMaxNewTokens = std::numeric_limits<int32_t>::max();
inline constexpr double kTimeoutSecondsMax = 365 * 86400.0;  // a deadline, not "forever"

class Args {
 public:
  // Parses args against the command's options; throws ps::Error(InvalidInput) on a bad one.
  // stray_hint ends the message for a stray word (a command can say where such words belong).
  Args(std::string command, const std::vector<std::string>& args, std::vector<OptionSpec> specs,
       const std::string& stray_hint = "options start with --");

  bool has(const std::string& name) const;
  bool flag(const std::string& name) const { return has(name); }
  std::string str(const std::string& name, const std::string& dflt) const;
  std::string required(const std::string& name) const;
  // Integers in [min, max]; every call states the range its field can hold.
  int64_t integer(const std::string& name, int64_t dflt, int64_t min, int64_t max) const;
  std::optional<int64_t> opt_integer(const std::string& name, int64_t min, int64_t max) const;
  // An int field: the range must lie within int, so the narrowing cannot wrap.
  int int32(const std::string& name, int dflt, int min, int max = std::numeric_limits<int>::max()) const;
  uint64_t uint64(const std::string& name, uint64_t dflt) const;  // the whole uint64 range (seeds)
  // Finite reals in [min, max], or (min, max] with lower == Lower::Open.
  enum class Lower { Closed, Open };
  double number(const std::string& name, double dflt, double min, double max, Lower lower = Lower::Closed) const;
  std::optional<double> opt_number(const std::string& name, double min, double max,
                                   Lower lower = Lower::Closed) const;
  // "1,2,3" -> {1,2,3}, each in [min, max]
  std::vector<int64_t> int_list(const std::string& name, int64_t min, int64_t max) const;
  std::string usage() const;

 private:
  std::string command_;
  std::vector<OptionSpec> specs_;
  std::map<std::string, std::string> values_;
};

}  // namespace ps::cli
