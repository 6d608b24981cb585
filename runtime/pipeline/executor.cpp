#include "kernels/owned_tensor.h"
#include "runtime/pipeline/executor.h"

#include "kernels/ops.h"

#include "partitioner/schedule_check.h"

namespace ps {

// The buffers of one micro-batch. Its sends keep their memory here until they complete.
struct StageExecutor::Slot {
  MicroBatch mb;
  OwnedTensor in, out;            // on the stage's device: received activation, computed output
  OwnedTensor host_in, host_out;  // host copies, when the transport does not carry device memory
  std::array<int32_t, kMbHeaderInts> send_header{};
  std::vector<int32_t> send_meta;
  std::vector<std::unique_ptr<Completion>> sends;
  std::array<int32_t, kMbHeaderInts> recv_header{};
  std::unique_ptr<Completion> header_recv;
  int header_from = -1;            // the rank header_recv was posted to
  std::vector<int32_t> recv_meta;
  std::vector<int32_t> tokens;     // sampled here (last stage) or received (first stage)
  std::vector<int32_t> token_msg;  // [n, tokens...] on the wire
  bool has_tokens = false;
};

namespace {

using Clock = std::chrono::steady_clock;

void wait_all(std::vector<std::unique_ptr<Completion>>& v, std::chrono::milliseconds timeout) {
  for (auto& c : v) c->wait(timeout);
  v.clear();
}

}  // namespace

StageExecutor::StageExecutor(const ExecutorConfig& cfg, StageModel& model, const OpContext& ctx, Transport* transport,
                             Engine* engine, ScoreFormatter* scores)
    : cfg_(cfg), me_(coord_of(cfg.topology, cfg.rank)), model_(model), ctx_(ctx), transport_(transport),
      engine_(engine), scores_(scores) {
  const int stages = cfg.topology.stages;
  PS_CHECK(stages == 1 || transport, "a multi-stage pipeline needs a transport");
  PS_CHECK(me_.stage != 0 || engine, "the first stage needs the engine");
  PS_CHECK(me_.stage + 1 != stages || cfg.mode != Mode::Forward || scores, "the last stage needs a formatter");
  // What is checked is what runs: the lists of every stage together, then this stage's own kept.
  const ScheduleSource source = cfg.schedule ? cfg.schedule : schedule_source_default(stages, cfg.micro_batches);
  executor_check_schedules(cfg.mode, stages, source);
  for (RoundKind k : {RoundKind::Forward, RoundKind::Prefill, RoundKind::Decode, RoundKind::Drain}) {
    lists_[static_cast<size_t>(k)] = source(k, me_.stage);
    for (const Instruction& ins : list(k))  // the check knows no micro-batch count; the slots do
      if (ins.mb < 0 || ins.mb >= cfg.micro_batches)
        fail_runtime(peer_name(cfg.rank), ": ", round_kind_name(k), " instruction ", instruction_str(me_.stage, ins),
                     " names micro-batch ", ins.mb, " of ", cfg.micro_batches);
  }
  const Device dev = model.device();
  const PipelinePeers peers = pipeline_peers(cfg.topology, cfg.rank);  // activations: from prev, to next
  if (peers.prev >= 0) recv_through_host_ = !transport->carries(dev, peers.prev);
  if (peers.next >= 0) send_through_host_ = !transport->carries(dev, peers.next);
  for (int i = 0; i < cfg.micro_batches; ++i) {
    auto s = std::make_unique<Slot>();
    s->in = OwnedTensor(dev, cfg.in_dtype);
    s->out = OwnedTensor(dev, model.dtype());
    s->host_in = OwnedTensor(Device::cpu(), cfg.in_dtype);
    s->host_out = OwnedTensor(Device::cpu(), model.dtype());
    slots_.push_back(std::move(s));
  }
}

StageExecutor::~StageExecutor() {
  // Sends still in flight reference our buffers: give them a short chance to finish. After an
  // error the transport is torn down by the caller, which cancels what is left.
  for (auto& s : slots_) {
    try {
      wait_all(s->sends, std::chrono::milliseconds(1000));
    } catch (...) {
    }
  }
}

std::string StageExecutor::peer_name(int rank) const {
  const RankCoord c = coord_of(cfg_.topology, rank);
  return str("rank ", rank, " (replica ", c.replica, " stage ", c.stage, ")");
}

int StageExecutor::peer_rank(const Instruction& ins) const {
  if (ins.peer < 0 || ins.peer >= cfg_.topology.stages || ins.peer == me_.stage)
    fail_runtime(peer_name(cfg_.rank), ": instruction ", instruction_str(me_.stage, ins), " names peer stage ", ins.peer,
                 ", not another stage of its ", cfg_.topology.stages, "-stage pipeline");
  return stage_peer_rank(cfg_.topology, cfg_.rank, ins.peer);
}

void StageExecutor::reserve() {
  // The largest micro-batch: a group's sequences (batch / M, rounded up), each with up to max_ctx
  // rows (its prompt); mlp rows are samples, one per sequence.
  const int64_t seqs = (cfg_.slots + cfg_.micro_batches - 1) / cfg_.micro_batches;
  const bool mlp = model_.spec().family == Family::Mlp;
  const int64_t max_rows = seqs * (mlp ? 1 : cfg_.max_ctx);
  model_.reserve(ctx_, max_rows, cfg_.max_ctx);
  const int64_t in_width = activation_width(model_.spec(), model_.first_layer() - 1);
  const int64_t out_rows = model_.has_head() ? seqs : max_rows;
  for (auto& s : slots_) {
    if (me_.stage > 0) (recv_through_host_ ? s->host_in : s->in).reserve(max_rows * in_width);
    s->out.reserve(out_rows * model_.output_width());
    if (send_through_host_) s->host_out.reserve(out_rows * model_.output_width());
  }
  if (!model_.device().is_cpu() && model_.has_head()) logits_host_.reserve(seqs * model_.output_width());
}

void StageExecutor::run() {
  reserve();
  t0_ = Clock::now();
  start_unix_s_ = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const RoundKind first = cfg_.mode == Mode::Forward ? RoundKind::Forward : RoundKind::Prefill;
  if (const Instruction* r = next_recv_act(first, 0)) post_header_recv(r->mb, peer_rank(*r));
  for (std::optional<RoundKind> k = first; k; k = next_round(*k)) {
    kind_ = *k;
    if (kind_ != RoundKind::Drain) last_round_seen_ = false;  // the drain follows the round that set it
    for (pc_ = 0; pc_ < list(kind_).size(); ++pc_) execute(list(kind_)[pc_]);
    if (kind_ != RoundKind::Drain) ++round_;
  }
  for (auto& s : slots_) wait_all(s->sends, cfg_.timeout);
}

std::optional<RoundKind> StageExecutor::next_round(RoundKind k) const {
  const bool forward = cfg_.mode == Mode::Forward;
  if (k == RoundKind::Drain || (last_round_seen_ && forward)) return std::nullopt;
  if (last_round_seen_) return RoundKind::Drain;
  return forward ? RoundKind::Forward : RoundKind::Decode;
}

const Instruction* StageExecutor::next_recv_act(RoundKind k, size_t from) const {
  for (size_t i = from; i < list(k).size(); ++i)
    if (list(k)[i].op == InstrKind::RecvAct) return &list(k)[i];
  if (const std::optional<RoundKind> next = next_round(k))
    for (const Instruction& ins : list(*next))
      if (ins.op == InstrKind::RecvAct) return &ins;
  return nullptr;
}

void StageExecutor::execute(const Instruction& ins) {
  if (!cfg_.record_events) return dispatch(ins);
  InstructionEvent ev{ins.op, ins.mb, round_, std::chrono::duration<double>(Clock::now() - t0_).count(), 0, 0};
  dispatch(ins);
  ev.end_s = std::chrono::duration<double>(Clock::now() - t0_).count();
  ev.rows = slots_[static_cast<size_t>(ins.mb)]->mb.rows();
  events_.push_back(ev);
}

// The flat switch: one method per instruction, nothing else.
void StageExecutor::dispatch(const Instruction& ins) {
  switch (ins.op) {
    case InstrKind::Load: do_load(ins.mb); break;
    case InstrKind::Forward: do_forward(ins.mb); break;
    case InstrKind::Output: do_output(ins.mb); break;
    case InstrKind::Sample: do_sample(ins.mb); break;
    case InstrKind::SendAct: do_send_act(ins.mb, peer_rank(ins)); break;
    case InstrKind::RecvAct: do_recv_act(ins.mb, peer_rank(ins)); break;
    case InstrKind::SendTokens: do_send_tokens(ins.mb, peer_rank(ins)); break;
    case InstrKind::RecvTokens: do_recv_tokens(ins.mb, peer_rank(ins)); break;
    default: fail_runtime("executor: unknown instruction ", static_cast<int>(ins.op));
  }
}

void StageExecutor::do_load(int mb) {
  Slot& s = *slots_[static_cast<size_t>(mb)];
  const std::span<const int32_t> back = s.has_tokens ? std::span<const int32_t>(s.tokens) : std::span<const int32_t>();
  engine_->load(mb, back, s.mb);
  s.has_tokens = false;
  if (mb == cfg_.micro_batches - 1 && s.mb.last_round) last_round_seen_ = true;
}

void StageExecutor::do_forward(int mb) {
  Slot& s = *slots_[static_cast<size_t>(mb)];
  wait_all(s.sends, cfg_.timeout);  // the previous round's send still reads s.out
  if (s.mb.rows() == 0) {
    s.out.reshape(Shape{0, model_.output_width()});
    return;
  }
  TensorView in = recv_through_host_ ? s.host_in.view : s.in.view;  // forward copies it to the device
  if (me_.stage == 0 && !s.mb.inputs.empty())  // mlp: the requests' numbers are the input
    in = TensorView{s.mb.inputs.data(), DType::F32, Device::cpu(), Shape{s.mb.rows(), model_.spec().input_size}};
  model_.forward(ctx_, s.mb.batch, in, s.out);
}

void StageExecutor::do_output(int mb) {
  Slot& s = *slots_[static_cast<size_t>(mb)];
  const int64_t width = s.out.view.rank() == 2 ? s.out.view.shape[1] : 0;
  scores_->publish(ctx_, s.mb, host_f32(ctx_, s.out.view, logits_host_), width);
}

void StageExecutor::do_sample(int mb) {
  Slot& s = *slots_[static_cast<size_t>(mb)];
  batch_sample(ctx_, s.out.view, s.mb.seqs, s.tokens);
  s.has_tokens = true;  // one stage: Load of the next round applies them directly
}

void StageExecutor::do_send_act(int mb, int peer) {
  Slot& s = *slots_[static_cast<size_t>(mb)];
  s.send_header = mb_header_encode(s.mb, model_.output_width());
  s.sends.push_back(transport_->send_i32(s.send_header, peer));
  if (s.mb.rows() == 0) return;
  s.send_meta = mb_meta_encode(s.mb);
  s.sends.push_back(transport_->send_i32(s.send_meta, peer));
  if (send_through_host_) {  // device -> host; complete when copy returns
    s.host_out.reshape(s.out.view.shape);
    ops::copy(ctx_, s.out.view, s.host_out.view);
  }
  s.sends.push_back(transport_->send(send_through_host_ ? s.host_out.view : s.out.view, peer));
}

void StageExecutor::post_header_recv(int mb, int peer) {
  Slot& s = *slots_[static_cast<size_t>(mb)];
  s.header_recv = transport_->recv_i32(s.recv_header, peer);
  s.header_from = peer;
}

void StageExecutor::do_recv_act(int mb, int peer) {
  Slot& s = *slots_[static_cast<size_t>(mb)];
  const std::string from = peer_name(peer);
  if (!s.header_recv) post_header_recv(mb, peer);
  PS_CHECK(s.header_from == peer, "the header of micro-batch ", mb, " was posted to rank ", s.header_from,
           ", its instruction receives from ", from);
  s.header_recv->wait(cfg_.timeout);
  s.header_recv.reset();
  const int64_t width = activation_width(model_.spec(), model_.first_layer() - 1);
  const MbHeader h = mb_header_decode(s.recv_header, static_cast<int64_t>(cfg_.slots) * cfg_.max_ctx, width, from);
  s.mb.clear();
  s.mb.last_round = h.last_round;
  if (h.rows > 0) {
    s.recv_meta.assign(static_cast<size_t>(mb_meta_ints(h)), 0);
    auto meta = transport_->recv_i32(s.recv_meta, peer);
    OwnedTensor& dst = recv_through_host_ ? s.host_in : s.in;
    dst.reshape(Shape{h.rows, width});
    auto act = transport_->recv(dst.view, peer);
    meta->wait(cfg_.timeout);
    // Host transports wait here; NCCL orders the next compute after the receive on the device.
    transport_->stream_wait(*act, ctx_.stream, cfg_.timeout);
    mb_meta_decode(s.recv_meta, h, cfg_.slots, cfg_.max_ctx, from, s.mb);
  }
  if (mb == cfg_.micro_batches - 1 && h.last_round) last_round_seen_ = true;
  // Post the next header now, so it arrives while this micro-batch computes.
  if (const Instruction* next = next_recv_act(kind_, pc_ + 1)) post_header_recv(next->mb, peer_rank(*next));
}

void StageExecutor::do_send_tokens(int mb, int peer) {
  Slot& s = *slots_[static_cast<size_t>(mb)];
  s.token_msg.assign(1, static_cast<int32_t>(s.tokens.size()));
  s.token_msg.insert(s.token_msg.end(), s.tokens.begin(), s.tokens.end());
  s.has_tokens = false;
  s.sends.push_back(transport_->send_i32(s.token_msg, peer));
}

void StageExecutor::do_recv_tokens(int mb, int peer) {
  Slot& s = *slots_[static_cast<size_t>(mb)];
  const size_t n = engine_->awaited(mb);
  s.token_msg.assign(n + 1, 0);
  transport_->recv_i32(s.token_msg, peer)->wait(cfg_.timeout);
  if (s.token_msg[0] != static_cast<int32_t>(n))
    fail_runtime("tokens from ", peer_name(peer), ": ", s.token_msg[0], " for a group of ", n);
  s.tokens.assign(s.token_msg.begin() + 1, s.token_msg.end());
  s.has_tokens = true;
  // The drain round has no Load after it: apply the last tokens here.
  if (last_round_seen_ && cfg_.mode == Mode::Generate) {
    engine_->accept(mb, s.tokens);
    s.has_tokens = false;
  }
}

ScheduleSource schedule_source_default(int stages, int micro_batches) {
  return [stages, micro_batches](RoundKind kind, int stage) { return make_schedule(kind, stage, stages, micro_batches); };
}

void executor_check_schedules(Mode mode, int stages, const ScheduleSource& source) {
  std::vector<std::vector<Instruction>> ranks;
  for (int s = 0; s < stages; ++s) {
    std::vector<Instruction> program;
    auto add = [&](RoundKind k) {
      const std::vector<Instruction> round = source(k, s);
      program.insert(program.end(), round.begin(), round.end());
    };
    if (mode == Mode::Forward) {
      add(RoundKind::Forward);
      add(RoundKind::Forward);
    } else {  // make_generate_program's shape, from the source
      add(RoundKind::Prefill);
      add(RoundKind::Decode);
      add(RoundKind::Decode);
      add(RoundKind::Drain);
    }
    ranks.push_back(std::move(program));
  }
  const ScheduleCheck c = schedule_check(ranks);
  if (!c.ok) fail_runtime("schedule check failed at step ", c.step, " on rank ", c.rank, ": ", c.error, "\n", c.grid);
}

}  // namespace ps
