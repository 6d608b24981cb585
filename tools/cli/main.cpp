// pipeshard: the command-line entry point. Dispatches to a subcommand; turns errors into a
// message on stderr and an exit status (2 for bad input, 1 for a failed run).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "tools/cli/commands.h"

namespace {

void print_help() {
  std::fprintf(stderr, "usage: pipeshard <command> [options]\n\ncommands:\n");
  for (const auto& c : ps::cli::command_table()) std::fprintf(stderr, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(stderr, "\n`pipeshard <command> --help` lists a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& c : ps::cli::command_table()) {
    if (name != c.name) continue;
    try {
      return c.fn(args);
    } catch (const ps::Error& e) {
      std::fprintf(stderr, "pipeshard %s: error: %s\n", c.name, e.what());
      return e.exit_code();
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "pipeshard %s: error: out of memory\n", c.name);
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "pipeshard %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "pipeshard: unknown command '%s'\n", name.c_str());
  print_help();
  return 2;
}
