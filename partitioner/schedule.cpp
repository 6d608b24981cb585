#include "partitioner/schedule.h"

#include <cctype>
#include <sstream>

#include "runtime/core/error.h"

namespace ps {

namespace {

constexpr InstrKind kAllOps[] = {InstrKind::Load, InstrKind::Forward, InstrKind::Output, InstrKind::Sample,
                          InstrKind::SendAct, InstrKind::RecvAct, InstrKind::SendTokens, InstrKind::RecvTokens};

void check_shape(int stage, int stages, int micro_batches) {
  PS_CHECK(stages >= 1 && stage >= 0 && stage < stages && micro_batches >= 1, "stage ", stage, " of ", stages,
           ", ", micro_batches, " micro-batches");
}

// The peer an op talks to, by the pipeline's shape: activations flow forward, tokens flow from
// the last stage back to the first.
int op_peer(InstrKind op, int stage, int stages) {
  switch (op) {
    case InstrKind::SendAct: return stage + 1;
    case InstrKind::RecvAct: return stage - 1;
    case InstrKind::SendTokens: return 0;
    case InstrKind::RecvTokens: return stages - 1;
    default: return -1;
  }
}

}  // namespace

const char* op_code(InstrKind op) {
  switch (op) {
    case InstrKind::Load: return "L";
    case InstrKind::Forward: return "F";
    case InstrKind::Output: return "O";
    case InstrKind::Sample: return "T";
    case InstrKind::SendAct: return "SEND_F";
    case InstrKind::RecvAct: return "RECV_F";
    case InstrKind::SendTokens: return "SEND_T";
    case InstrKind::RecvTokens: return "RECV_T";
  }
  return "?";
}

bool op_is_send(InstrKind op) { return op == InstrKind::SendAct || op == InstrKind::SendTokens; }
bool op_is_recv(InstrKind op) { return op == InstrKind::RecvAct || op == InstrKind::RecvTokens; }
bool op_is_compute(InstrKind op) { return !op_is_send(op) && !op_is_recv(op); }
InstrKind op_matching_send(InstrKind recv) { return recv == InstrKind::RecvTokens ? InstrKind::SendTokens : InstrKind::SendAct; }

const char* round_kind_name(RoundKind k) {
  switch (k) {
    case RoundKind::Forward: return "forward";
    case RoundKind::Prefill: return "prefill";
    case RoundKind::Decode: return "decode";
    case RoundKind::Drain: return "drain";
  }
  return "?";
}

std::vector<Instruction> make_schedule(RoundKind kind, int stage, int stages, int micro_batches) {
  check_shape(stage, stages, micro_batches);
  const bool first = stage == 0, last = stage == stages - 1, alone = stages == 1;
  std::vector<Instruction> out;
  auto add = [&](InstrKind op, int mb) { out.push_back({op, mb, op_peer(op, stage, stages)}); };
  for (int mb = 0; mb < micro_batches; ++mb) {
    switch (kind) {
      case RoundKind::Forward:
      case RoundKind::Prefill:
      case RoundKind::Decode:
        if (first && kind == RoundKind::Decode && !alone) add(InstrKind::RecvTokens, mb);
        if (!first) add(InstrKind::RecvAct, mb);
        if (first) add(InstrKind::Load, mb);
        add(InstrKind::Forward, mb);
        if (!last) add(InstrKind::SendAct, mb);
        if (last && kind == RoundKind::Forward) add(InstrKind::Output, mb);
        if (last && kind != RoundKind::Forward) add(InstrKind::Sample, mb);
        if (last && kind != RoundKind::Forward && !alone) add(InstrKind::SendTokens, mb);
        break;
      case RoundKind::Drain:
        if (first && !alone) add(InstrKind::RecvTokens, mb);
        break;
    }
  }
  return out;
}

std::vector<Instruction> make_generate_program(int stage, int stages, int micro_batches, int decode_rounds) {
  PS_CHECK(decode_rounds >= 0, "decode_rounds ", decode_rounds);
  std::vector<Instruction> out = make_schedule(RoundKind::Prefill, stage, stages, micro_batches);
  const std::vector<Instruction> decode = make_schedule(RoundKind::Decode, stage, stages, micro_batches);
  for (int r = 0; r < decode_rounds; ++r) out.insert(out.end(), decode.begin(), decode.end());
  const std::vector<Instruction> drain = make_schedule(RoundKind::Drain, stage, stages, micro_batches);
  out.insert(out.end(), drain.begin(), drain.end());
  return out;
}

std::string instruction_str(int stage, const Instruction& ins) {
  return std::to_string(stage) + op_code(ins.op) + std::to_string(ins.mb);
}

Instruction instruction_parse(std::string_view text, int stages, int* stage_out) {
  auto bad = [&](const char* why) -> Instruction {
    fail_input("schedule instruction '", text, "': ", why, " (expected <stage><op><micro-batch>, e.g. 1F0 or 0SEND_F2)");
  };
  size_t i = 0;
  auto read_int = [&](int& v) {
    const size_t start = i;
    v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && i - start < 9) v = v * 10 + (text[i++] - '0');
    return i > start;
  };
  int stage = 0, mb = 0;
  if (!read_int(stage)) return bad("no stage number");
  const size_t op_start = i;
  while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  const std::string_view code = text.substr(op_start, i - op_start);
  if (!read_int(mb) || i != text.size()) return bad("no micro-batch number at the end");
  if (stage >= stages) fail_input("schedule instruction '", text, "': stage ", stage, " of a ", stages, "-stage pipeline");
  for (InstrKind op : kAllOps) {
    if (code != op_code(op)) continue;
    const int peer = op_peer(op, stage, stages);
    if ((op_is_send(op) || op_is_recv(op)) && (peer < 0 || peer >= stages || peer == stage))
      fail_input("schedule instruction '", text, "': stage ", stage, " has no peer for ", code, " in a ", stages,
                 "-stage pipeline");
    if (stage_out) *stage_out = stage;
    return {op, mb, peer};
  }
  return bad("unknown op");
}

std::string schedule_str(int stage, const std::vector<Instruction>& list) {
  std::string out;
  for (const auto& ins : list) {
    if (!out.empty()) out += ' ';
    out += instruction_str(stage, ins);
  }
  return out;
}

std::vector<Instruction> schedule_parse(std::string_view text, int stage, int stages) {
  std::vector<Instruction> out;
  std::istringstream in{std::string(text)};
  std::string word;
  while (in >> word) {
    int s = -1;
    out.push_back(instruction_parse(word, stages, &s));
    if (s != stage) fail_input("schedule instruction '", word, "' names stage ", s, " in the list of stage ", stage);
  }
  return out;
}

}  // namespace ps
