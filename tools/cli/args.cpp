#include "tools/cli/args.h"

#include <charconv>
#include <cstdlib>

#include "runtime/core/error.h"
#include "runtime/core/json_util.h"

namespace ps::cli {

Args::Args(std::string command, const std::vector<std::string>& args, std::vector<OptionSpec> specs)
    : command_(std::move(command)), specs_(std::move(specs)) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
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
      fail_input(command_, ": unknown option --", name, hint ? " (did you mean --" + *hint + "?)" : std::string(),
                 "\n", usage());
    }
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= args.size()) fail_input(command_, ": option --", name, " needs a value");
      value = args[++i];
    } else if (!spec->takes_value && inline_value) {
      fail_input(command_, ": option --", name, " takes no value");
    }
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

static int64_t parse_int(const std::string& command, const std::string& name, const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    fail_input(command, ": --", name, ": '", s, "' is not an integer");
  return v;
}

int64_t Args::integer(const std::string& name, int64_t dflt) const {
  return has(name) ? parse_int(command_, name, str(name, "")) : dflt;
}

std::optional<int64_t> Args::opt_integer(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  return parse_int(command_, name, str(name, ""));
}

double Args::number(const std::string& name, double dflt) const {
  auto v = opt_number(name);
  return v ? *v : dflt;
}

std::optional<double> Args::opt_number(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  const std::string s = str(name, "");
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) fail_input(command_, ": --", name, ": '", s, "' is not a number");
  return v;
}

std::vector<int64_t> Args::int_list(const std::string& name) const {
  std::vector<int64_t> out;
  const std::string s = str(name, "");
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back(parse_int(command_, name, item));
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
