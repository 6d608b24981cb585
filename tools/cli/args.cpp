#include "tools/cli/args.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "runtime/core/error.h"
#include "runtime/core/json_util.h"

namespace ps::cli {

namespace {

// A value as quoted in a message: at most a short excerpt, never a whole pasted file.
std::string excerpt(const std::string& v) { return text_excerpt(v, 64); }
std::string quoted(const std::string& v) {
  std::string q = excerpt(v);  // appended, not "'" + ... + "'": g++ 12 sees a false -Wrestrict there
  q.insert(q.begin(), '\'');
  q += '\'';
  return q;
}

}  // namespace

Args::Args(std::string command, const std::vector<std::string>& args, std::vector<OptionSpec> specs,
           const std::string& stray_hint)
    : command_(std::move(command)), specs_(std::move(specs)) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    // No command takes positional words: a stray one is a typo or a lost value, never ignored.
    if (a.rfind("--", 0) != 0 || a == "--")
      fail_input(command_, ": unexpected argument ", quoted(a), " (", stray_hint, ")\n", usage());
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs_)
      if (s.name == name) spec = &s;
    if (!spec) {
      std::vector<std::string> names;
      for (const auto& s : specs_) names.push_back(s.name);
      const auto hint = did_you_mean(name, names);
      fail_input(command_, ": unknown option --", excerpt(name), hint ? " (did you mean --" + *hint + "?)" : std::string(),
                 "\n", usage());
    }
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= args.size()) fail_input(command_, ": option --", name, " needs a value");
      value = args[++i];
    } else if (!spec->takes_value && inline_value) {
      fail_input(command_, ": option --", name, " takes no value");
    }
    // An empty value is never meant: `--output ''` must not quietly mean stdout.
    if (spec->takes_value && value.empty()) fail_input(command_, ": option --", name, " needs a value, got an empty one");
    values_[name] = value;
  }
}

bool Args::has(const std::string& name) const { return values_.count(name) != 0; }

std::string Args::str(const std::string& name, const std::string& dflt) const {
  auto it = values_.find(name);
  return it == values_.end() ? dflt : it->second;
}

std::string Args::required(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) fail_input(command_, ": missing required option --", name, "\n", usage());
  return it->second;
}

static int64_t parse_int(const std::string& command, const std::string& name, const std::string& s, int64_t min,
                         int64_t max) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (p != s.data() + s.size() || (ec != std::errc() && ec != std::errc::result_out_of_range))
    fail_input(command, ": --", name, ": ", quoted(s), " is not an integer");
  if (ec == std::errc::result_out_of_range || v < min || v > max)
    fail_input(command, ": --", name, ": ", excerpt(s), " is not in ", min, "..", max);
  return v;
}

int64_t Args::integer(const std::string& name, int64_t dflt, int64_t min, int64_t max) const {
  return has(name) ? parse_int(command_, name, str(name, ""), min, max) : dflt;
}

std::optional<int64_t> Args::opt_integer(const std::string& name, int64_t min, int64_t max) const {
  if (!has(name)) return std::nullopt;
  return parse_int(command_, name, str(name, ""), min, max);
}

int Args::int32(const std::string& name, int dflt, int min, int max) const {
  return static_cast<int>(integer(name, dflt, min, max));  // [min, max] lies within int
}

uint64_t Args::uint64(const std::string& name, uint64_t dflt) const {
  if (!has(name)) return dflt;
  const std::string s = str(name, "");
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);  // no sign accepted
  if (ec != std::errc() || p != s.data() + s.size())
    fail_input(command_, ": --", name, ": ", quoted(s), " is not an integer in 0..", UINT64_MAX);
  return v;
}

double Args::number(const std::string& name, double dflt, double min, double max, Lower lower) const {
  auto v = opt_number(name, min, max, lower);
  return v ? *v : dflt;
}

std::optional<double> Args::opt_number(const std::string& name, double min, double max, Lower lower) const {
  if (!has(name)) return std::nullopt;
  const std::string s = str(name, "");
  char* end = nullptr;
  // strtod skips leading blanks; a strict value has none.
  const double v = std::isspace(static_cast<unsigned char>(s[0])) ? 0 : std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) fail_input(command_, ": --", name, ": ", quoted(s), " is not a number");
  if (!std::isfinite(v)) fail_input(command_, ": --", name, ": ", quoted(s), " is not a finite number");
  const bool low_ok = lower == Lower::Open ? v > min : v >= min;
  if (!low_ok || v > max)
    fail_input(command_, ": --", name, ": ", excerpt(s), " is not in ", lower == Lower::Open ? "(" : "[", min, ", ", max,
               "]");
  return v;
}

std::vector<int64_t> Args::int_list(const std::string& name, int64_t min, int64_t max) const {
  std::vector<int64_t> out;
  const std::string s = str(name, "");
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back(parse_int(command_, name, item, min, max));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string Args::usage() const {
  std::string u = "usage: pipeshard " + command_ + " [options]\n";
  for (const auto& s : specs_) {
    std::string left = "  --" + s.name + (s.takes_value ? " VALUE" : "");
    if (left.size() < 28) left.resize(28, ' ');
    u += left + " " + s.help + "\n";
  }
  return u;
}

}  // namespace ps::cli
