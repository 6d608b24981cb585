#include "partitioner/workload.h"

namespace ps {

const char* mode_name(Mode m) { return m == Mode::Generate ? "generate" : "forward"; }

std::optional<Mode> mode_parse(std::string_view s) {
  if (s == "forward") return Mode::Forward;
  if (s == "generate") return Mode::Generate;
  return std::nullopt;
}

}  // namespace ps
