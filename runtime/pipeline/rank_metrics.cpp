#include "runtime/pipeline/rank_metrics.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/core/files.h"

namespace ps {

uint64_t process_peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmHWM:  1234 kB"
  return 0;
}

void rank_metrics_write(const std::string& dir, const RankMetrics& m, const StageExecutor& exec) {
  Json events = Json::array();
  for (const InstructionEvent& e : exec.events())
    events.push_back({{"op", op_code(e.op)}, {"mb", e.mb}, {"round", e.round}, {"start_s", e.start_s},
                      {"end_s", e.end_s}, {"rows", e.rows}});
  const Json j = {{"rank", m.rank},
                  {"replica", m.replica},
                  {"stage", m.stage},
                  {"start_unix_s", exec.start_unix_s()},
                  {"rounds", exec.rounds()},
                  {"load_s", m.load_s},
                  {"weight_bytes", m.weight_bytes},
                  {"peak_rss_bytes", process_peak_rss_bytes()},
                  {"transport",
                   {{"bytes_sent", m.transport.bytes_sent},
                    {"bytes_received", m.transport.bytes_received},
                    {"sends", m.transport.sends},
                    {"recvs", m.transport.recvs}}},
                  {"events", events}};
  file_write_atomic(dir + "/rank" + std::to_string(m.rank) + ".json", j.dump());
}

}  // namespace ps
