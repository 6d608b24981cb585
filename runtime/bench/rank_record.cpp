#include "runtime/bench/rank_record.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "runtime/core/error.h"

namespace ps {

std::optional<InstrKind> op_from_code(std::string_view code) {
  for (InstrKind op :
       {InstrKind::Load, InstrKind::Forward, InstrKind::Output, InstrKind::Sample, InstrKind::SendAct, InstrKind::RecvAct, InstrKind::SendTokens, InstrKind::RecvTokens})
    if (code == op_code(op)) return op;
  return std::nullopt;
}

namespace {

int small_int(const JsonField& f, const char* key, int lo) {
  const int64_t v = f.require_int(key);
  if (v < lo || v > (int64_t{1} << 30)) fail_input(f.path(key), ": ", v, " is out of range");
  return static_cast<int>(v);
}

uint64_t count(const JsonField& f, const char* key) {
  const int64_t v = f.get_int(key, 0);
  if (v < 0) fail_input(f.path(key), ": ", v, " is negative");
  return static_cast<uint64_t>(v);
}

InstructionEvent event_from_json(const Json& j, const std::string& where) {
  if (!j.is_object()) fail_input(where, ": expected an object, got ", json_type_name(j));
  const JsonField f{j, where};
  f.reject_unknown_keys({"op", "mb", "round", "start_s", "end_s", "rows"});
  InstructionEvent e;
  const std::string code = f.require_string("op");
  const auto op = op_from_code(code);
  if (!op)
    fail_input(f.path("op"), ": '", code, "' is not an instruction (L, F, O, T, SEND_F, RECV_F, SEND_T, RECV_T)");
  e.op = *op;
  e.mb = small_int(f, "mb", 0);
  e.round = small_int(f, "round", 0);
  e.start_s = f.require_number("start_s");
  e.end_s = f.require_number("end_s");
  e.rows = f.get_int("rows", 0);
  if (!(e.end_s >= e.start_s)) fail_input(where, ": ends (", e.end_s, " s) before it starts (", e.start_s, " s)");
  return e;
}

}  // namespace

RankRecord rank_record_from_json(const Json& j, const std::string& file) {
  if (!j.is_object()) fail_input(file, ": expected an object, got ", json_type_name(j));
  const JsonField f{j, file + ":"};
  RankRecord r;
  r.rank = small_int(f, "rank", 0);
  r.replica = small_int(f, "replica", 0);
  r.stage = small_int(f, "stage", 0);
  r.start_unix_s = f.require_number("start_unix_s");
  r.rounds = small_int(f, "rounds", 0);
  r.load_s = f.get_number("load_s", 0);
  r.weight_bytes = count(f, "weight_bytes");
  r.peak_rss_bytes = count(f, "peak_rss_bytes");
  if (f.has("transport")) {
    const Json& t = f.require("transport");
    const JsonField tf{t, f.path("transport")};
    if (!t.is_object()) fail_input(tf.where, ": expected an object");
    r.transport = {count(tf, "bytes_sent"), count(tf, "bytes_received"), count(tf, "sends"), count(tf, "recvs")};
  }
  const Json& events = f.require("events");
  if (!events.is_array()) fail_input(f.path("events"), ": expected an array, got ", json_type_name(events));
  r.events.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i)
    r.events.push_back(event_from_json(events[i], json_path(f.path("events"), i)));
  return r;
}

std::vector<RankRecord> rank_records_read(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail_input(dir, ": not a directory of rank metrics");
  std::vector<RankRecord> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("rank", 0) != 0 || entry.path().extension() != ".json") continue;
    out.push_back(rank_record_from_json(json_read_file(entry.path().string()), entry.path().string()));
  }
  if (out.empty()) fail_input(dir, ": no rank<N>.json files (was the run given --metrics-dir?)");
  std::sort(out.begin(), out.end(), [](const RankRecord& a, const RankRecord& b) { return a.rank < b.rank; });
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].rank != static_cast<int>(i))
      fail_input(dir, ": has metrics of ", out.size(), " ranks but rank ", i, " is missing");
  return out;
}

int rank_records_stages(const std::vector<RankRecord>& ranks) {
  int p = 0;
  for (const RankRecord& r : ranks) p = std::max(p, r.stage + 1);
  return p;
}

}  // namespace ps
