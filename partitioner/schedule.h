// Pipeline schedules as data (docs/DESIGN.md, "Schedules and the executor").
// make_schedule(kind, stage, stages, micro_batches) is a pure function returning the instructions
// ONE stage runs in one round. The runtime's executor runs them with a flat switch over
// InstrKind; the simulator (simulator.h) times the very same lists against the cost model;
// schedule_check (schedule_check.h) proves the ranks' lists pair every send with a receive
// before anything runs.
//
// Semantics the executor and the simulator share:
//   - a stage runs its list in order, one instruction at a time;
//   - a send is asynchronous: the stage goes on once it is posted; messages between two stages
//     match in the order they were posted (NCCL has no tags), whatever their kind;
//   - a receive may be posted early (the executor posts the next one before computing the current
//     micro-batch), but the instruction completes only when the message has arrived.
//
// Text form, after PyTorch's pipelining IR: "<stage><op><micro-batch>", e.g. "1F0" = stage 1 runs
// Forward on micro-batch 0. The peer of a send/receive follows from the op and the stage count.
//   L       Load        first stage: fill the micro-batch's free sequence slots from the input
//   F       Forward     run the stage's layers on the micro-batch
//   O       Output      last stage, forward mode: write the micro-batch's results
//   T       Sample      last stage, generate: sample each sequence's next token from the logits
//   SEND_F  SendAct     send the micro-batch's activation to the next stage
//   RECV_F  RecvAct     receive the micro-batch's activation from the previous stage
//   SEND_T  SendTokens  last stage: send the sampled tokens (and finished flags) to the first stage
//   RECV_T  RecvTokens  first stage: receive them; finished sequences free their slots
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ps {

enum class InstrKind : uint8_t { Load, Forward, Output, Sample, SendAct, RecvAct, SendTokens, RecvTokens };

struct Instruction {
  InstrKind op = InstrKind::Forward;
  int mb = 0;     // micro-batch
  int peer = -1;  // the other stage of a send/receive (a stage index within the replica), else -1

  friend bool operator==(const Instruction&, const Instruction&) = default;
};

const char* op_code(InstrKind op);  // "F", "SEND_F", ...
bool op_is_send(InstrKind op);
bool op_is_recv(InstrKind op);
bool op_is_compute(InstrKind op);  // occupies the stage's device: Load, Forward, Output, Sample
// The send that a receive pairs with (RecvAct -> SendAct, RecvTokens -> SendTokens).
InstrKind op_matching_send(InstrKind recv);

// One round of a pipeline run.
//   Forward: score micro-batches. first: L F SEND_F; middle: RECV_F F SEND_F; last: RECV_F F O.
//   Prefill: the first round of generation; as Forward, but the last stage samples and returns
//            the tokens: RECV_F F T SEND_T.
//   Decode:  one new token per sequence; the first stage starts from the returned tokens:
//            RECV_T L F SEND_F (L admits waiting requests into slots that finished).
//   Drain:   ends a generation: the first stage receives the last round's tokens.
// Tokens of round k are received in round k+1, so micro-batch 0 of the next round starts as soon
// as its own tokens are back, while the later micro-batches of this round are still in flight:
// M micro-batch groups stay in flight (continuous generation). With one stage there is nothing
// to send: Sample's tokens feed the next round directly.
enum class RoundKind : uint8_t { Forward, Prefill, Decode, Drain };
const char* round_kind_name(RoundKind k);

std::vector<Instruction> make_schedule(RoundKind kind, int stage, int stages, int micro_batches);
// A whole generation for one stage: Prefill, decode_rounds x Decode, Drain (max_new_tokens = 1 +
// decode_rounds). The lists of every stage pass schedule_check together.
std::vector<Instruction> make_generate_program(int stage, int stages, int micro_batches, int decode_rounds);

// "1F0", "0SEND_F3"
std::string instruction_str(int stage, const Instruction& ins);
// Parses one instruction of the text form; fills the peer from the op and `stages`. Returns the
// stage it names in *stage_out. Throws InvalidInput naming the text on a malformed one.
Instruction instruction_parse(std::string_view text, int stages, int* stage_out);
// Space-separated text form of one stage's list, and back (every entry must name `stage`).
std::string schedule_str(int stage, const std::vector<Instruction>& list);
std::vector<Instruction> schedule_parse(std::string_view text, int stage, int stages);

}  // namespace ps
