// A small command-line parser for the subcommands: `--name value`, `--name=value` and boolean
// `--flag`. Unknown options are bad input (exit 2) with a did-you-mean.
#pragma once

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

class Args {
 public:
  // Parses args against the command's options; throws ps::Error(InvalidInput) on a bad one.
  Args(std::string command, const std::vector<std::string>& args, std::vector<OptionSpec> specs);

  bool has(const std::string& name) const;
  bool flag(const std::string& name) const { return has(name); }
  std::string str(const std::string& name, const std::string& dflt) const;
  std::string required(const std::string& name) const;
  int64_t integer(const std::string& name, int64_t dflt) const;
  double number(const std::string& name, double dflt) const;
  std::optional<int64_t> opt_integer(const std::string& name) const;
  std::optional<double> opt_number(const std::string& name) const;
  // "1,2,3" -> {1,2,3}
  std::vector<int64_t> int_list(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  std::string usage() const;

 private:
  std::string command_;
  std::vector<OptionSpec> specs_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace ps::cli
