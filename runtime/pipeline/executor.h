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
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/owned_tensor.h"
#include "partitioner/schedule.h"
#include "runtime/comm/transport.h"
#include "runtime/events/instruction_event.h"
#include "runtime/pipeline/request_feed.h"

namespace ps {

struct ExecutorConfig {
  Mode mode = Mode::Generate;
  int stage = 0, stages = 1, micro_batches = 1;
  int replica = 0;
  int first_rank = 0;  // rank of this replica's stage 0 (= replica * stages)
  int top_logprobs = 5;
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
  // `feed` only on the first stage; `sink` on the stage that produces results.
  StageExecutor(const ExecutorConfig& cfg, StageModel& model, const OpContext& ctx, Transport* transport,
                RequestFeed* feed, ResultSink* sink);
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
  void do_send_act(int mb);
  void do_recv_act(int mb);
  void do_send_tokens(int mb);
  void do_recv_tokens(int mb);
  void post_header_recv(int mb);
  std::string peer_name(int stage) const;
  int rank_of(int stage) const { return cfg_.first_rank + stage; }

  ExecutorConfig cfg_;
  StageModel& model_;
  OpContext ctx_;
  Transport* transport_;
  RequestFeed* feed_;
  ResultSink* sink_;
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

// Checks the whole replica's schedules pair every send with a receive (forward rounds, or a
// generation with two decode rounds), on every rank before anything runs. Runtime error with the
// step x rank grid when they do not.
void executor_check_schedules(Mode mode, int stages, int micro_batches);

}  // namespace ps
