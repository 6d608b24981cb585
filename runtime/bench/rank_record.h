// A rank's metrics file read back: <dir>/rank<N>.json as `pipeshard worker --metrics-dir` writes
// it (runtime/pipeline/rank_metrics.h). The benchmark's measurements and the merged trace are
// pure functions of these records, so they can be tested on hand-made ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/comm/transport.h"
#include "runtime/core/json_util.h"
#include "runtime/events/instruction_event.h"

namespace ps {

struct RankRecord {
  int rank = 0, replica = 0, stage = 0;
  double start_unix_s = 0;  // event times are relative to it
  int rounds = 0;
  double load_s = 0;
  uint64_t weight_bytes = 0, peak_rss_bytes = 0;
  TransportStats transport;
  std::vector<InstructionEvent> events;  // in execution order
};

// The op of a code as op_code() writes it ("F", "SEND_F"); nullopt for anything else.
std::optional<InstrKind> op_from_code(std::string_view code);

// Parses one metrics file's JSON; InvalidInput "<file>: events[3].op: ..." on a malformed one.
RankRecord rank_record_from_json(const Json& j, const std::string& file);
// Every rank<N>.json of `dir`, sorted by rank. InvalidInput when there is none, or when the
// ranks are not 0..n-1 (a rank that failed to write its file).
std::vector<RankRecord> rank_records_read(const std::string& dir);

// The number of stages of the records (1 + the largest stage).
int rank_records_stages(const std::vector<RankRecord>& ranks);

}  // namespace ps
