// The stage executor: runs the partitioner's schedules (partitioner/schedule.h) -- the same
// instruction lists the simulator times -- against the real model and transport. It only
// dispatches: a flat switch maps each instruction to one method, and an unknown one is an error.
//
// Overlap: the header of the next micro-batch's activation is posted as a receive before the
// current micro-batch is computed, and sends are asynchronous, each micro-batch with its own
// buffers (M copies), so a send never waits on the next compute.
//
// Devices: a stage on a GPU keeps its activations there. When the transport carries device
// memory (NCCL) they go straight from and to the device, a receive ordered before the next
// compute on the device (Transport::stream_wait), with no host synchronisation; otherwise (Gloo:
// two stages on one GPU, or a CPU neighbour) they are staged through host memory.
// Memory: every buffer is sized for the largest possible micro-batch and committed before the
// first instruction (StageModel::reserve), so a long run's memory stays flat.
// Every blocking wait has the executor's deadline; a dead peer ends the run with an error that
// names its rank and the operation.
// Peers: a send or receive goes to the rank of the stage its instruction names (Instruction::peer,
// mapped by the job's topology), the very lists that executor_check_schedules checked.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/owned_tensor.h"
#include "partitioner/schedule.h"
#include "partitioner/topology.h"
#include "runtime/comm/transport.h"
#include "runtime/events/instruction_event.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/results_format.h"
#include "runtime/pipeline/micro_batch.h"

namespace ps {

// The instruction list that stage `stage` of a replica runs in a round of kind `kind`.
using ScheduleSource = std::function<std::vector<Instruction>(RoundKind kind, int stage)>;
// make_schedule for a replica of `stages` stages and `micro_batches` micro-batches.
ScheduleSource schedule_source_default(int stages, int micro_batches);

struct ExecutorConfig {
  Mode mode = Mode::Generate;
  Topology topology;  // the job's ranks
  int rank = 0;       // this executor's: its replica and stage
  int micro_batches = 1;
  // Where its instruction lists come from; unset: schedule_source_default (tests hand in others).
  ScheduleSource schedule;
  int slots = 1;
  int64_t max_ctx = 1;
  // The dtype the previous stage computes in, which is how its activations arrive (the model's
  // device and dtype say where this stage's own buffers live).
  DType in_dtype = DType::F32;
  std::chrono::milliseconds timeout{60000};
  // Keep every instruction's timing (for --metrics-dir and traces). Off for long runs: the list
  // grows with every instruction.
  bool record_events = false;
};

class StageExecutor {
 public:
  // `engine` only on the first stage (it hosts the requests); `scores` on the last stage when
  // scoring (it formats and publishes the results).
  StageExecutor(const ExecutorConfig& cfg, StageModel& model, const OpContext& ctx, Transport* transport,
                Engine* engine, ScoreFormatter* scores);
  ~StageExecutor();

  // Runs rounds until the first stage's last_round, then (generation) the drain round.
  void run();
  const std::vector<InstructionEvent>& events() const { return events_; }
  // Wall-clock time of the executor's start (seconds since the epoch): event times are relative
  // to it, and ranks' traces are merged on it.
  double start_unix_s() const { return start_unix_s_; }
  int rounds() const { return round_; }

 private:
  struct Slot;  // per micro-batch buffers

  // Sizes and commits every buffer for the largest micro-batch before the first instruction.
  void reserve();
  void execute(const Instruction& ins);
  void dispatch(const Instruction& ins);
  void do_load(int mb);
  void do_forward(int mb);
  void do_output(int mb);
  void do_sample(int mb);
  void do_send_act(int mb, int peer);
  void do_recv_act(int mb, int peer);
  void do_send_tokens(int mb, int peer);
  void do_recv_tokens(int mb, int peer);
  void post_header_recv(int mb, int peer);
  // The round after one of kind `k`, as the run stands; nullopt after the last one.
  std::optional<RoundKind> next_round(RoundKind k) const;
  // The next RecvAct from position `from` of a round of kind `k` on, else in the next round.
  const Instruction* next_recv_act(RoundKind k, size_t from) const;
  int peer_rank(const Instruction& ins) const;  // the rank of the stage it names
  std::string peer_name(int rank) const;         // "rank 4 (replica 1 stage 1)"
  const std::vector<Instruction>& list(RoundKind k) const { return lists_[static_cast<size_t>(k)]; }

  ExecutorConfig cfg_;
  RankCoord me_;
  std::array<std::vector<Instruction>, 4> lists_;  // this stage's list per RoundKind, checked
  RoundKind kind_ = RoundKind::Forward;           // the round running, and its instruction
  size_t pc_ = 0;
  StageModel& model_;
  OpContext ctx_;
  Transport* transport_;
  Engine* engine_;
  ScoreFormatter* scores_;
  std::vector<std::unique_ptr<Slot>> slots_;
  // The transport does not carry this stage's memory from the previous / to the next stage.
  bool recv_through_host_ = false, send_through_host_ = false;
  OwnedTensor logits_host_;          // f32 logits for do_output when they live on a GPU
  std::vector<InstructionEvent> events_;
  int round_ = 0;
  bool last_round_seen_ = false;
  std::chrono::steady_clock::time_point t0_;
  double start_unix_s_ = 0;
};

// Checks that the lists of every stage of a replica pair every send with a receive (two forward
// rounds, or a generation with two decode rounds): the executor does before it runs. Runtime
// error with the step x rank grid when they do not.
void executor_check_schedules(Mode mode, int stages, const ScheduleSource& source);

}  // namespace ps
