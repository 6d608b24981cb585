// The NCCL transport's logic (nccl_transport.h) over an NcclApi table. Plain C++: it builds and is
// tested without CUDA or NCCL (tests/comm/nccl_logic_test.cpp drives it with a stand-in).
//
// Concurrency: one mutex guards every channel and message. NCCL and CUDA calls are made under it
// (all of them return at once: nonblocking communicators, event queries), so a communicator is
// never used by two threads at a time, as NCCL requires. Completion::wait polls without the lock
// between attempts.
#include "runtime/comm/nccl_transport.h"

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/core/error.h"

namespace ps {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kRing = 64;               // header slots per channel = messages in flight per direction
constexpr size_t kHeaderBytes = sizeof(uint64_t);
constexpr int kSenderRank = 0, kReceiverRank = 1;  // ranks inside a channel's two-rank communicator

enum class Dir : uint8_t { Send, Recv };

struct Channel;

// One posted message.
struct NcclOp {
  Dir dir = Dir::Send;
  int peer = 0;
  uint64_t seq = 0;
  void* buf = nullptr;
  size_t nbytes = 0;
  std::string what;  // "nccl rank 0: send to rank 1 (message #3, f32[2, 8], 64 bytes)"
  Channel* channel = nullptr;
  Clock::time_point posted;
  void* ready = nullptr;        // on the compute stream at post time
  void* header_done = nullptr;  // receive: the header reached pinned host memory
  void* done = nullptr;         // on the channel stream after the payload
  bool issued = false, finished = false;
  std::exception_ptr error;
};

// One direction with one peer: a two-rank communicator and its stream.
struct Channel {
  enum class State { WaitingId, Initializing, Ready, Failed };
  Dir dir = Dir::Send;
  int peer = 0;
  State state = State::WaitingId;
  std::string key;  // store key of the ncclUniqueId
  Clock::time_point init_deadline;
  void* comm = nullptr;
  void* stream = nullptr;
  uint64_t* host_header = nullptr;  // pinned, kRing slots
  uint64_t* dev_header = nullptr;   // device, kRing slots
  uint64_t next_seq = 0;
  std::deque<std::shared_ptr<NcclOp>> queued;    // posted before the communicator was ready
  std::deque<std::shared_ptr<NcclOp>> inflight;  // issued, in order, not yet seen complete
  std::exception_ptr error;                      // sticky once Failed
  const char* name() const { return dir == Dir::Send ? "to" : "from"; }
};

// Thrown inside the engine by a failed API call; turned into the failure of a channel.
struct ApiError {
  std::string message;
};

class Engine {
 public:
  Engine(Store& store, const NcclApi& api, NcclTransportOptions options)
      : store_(store), api_(api), opt_(std::move(options)) {}
  ~Engine() { close(); }

  std::mutex mu;

  const NcclTransportOptions& options() const { return opt_; }
  TransportStats stats() const {
    return {bytes_sent_.load(), bytes_received_.load(), sends_.load(), recvs_.load()};
  }

  // ---- posting (caller's thread) ---------------------------------------------------------------
  std::shared_ptr<NcclOp> post(Dir dir, const TensorView& t, int peer) {
    std::unique_lock<std::mutex> lock(mu);
    if (closed_) fail_runtime(prefix(), "the transport is closed");
    Channel& ch = channel(dir, peer);
    // Back-pressure: a header slot is reused only once its previous message was seen complete.
    while (ch.state != Channel::State::Failed && ch.queued.size() + ch.inflight.size() >= kRing) {
      progress(ch);
      if (ch.queued.size() + ch.inflight.size() < kRing) break;
      lock.unlock();
      std::this_thread::sleep_for(opt_.poll_interval);
      lock.lock();
    }
    auto op = std::make_shared<NcclOp>();
    op->dir = dir;
    op->peer = peer;
    op->seq = ch.next_seq++;
    op->buf = t.data;
    op->nbytes = t.nbytes();
    op->channel = &ch;
    op->posted = Clock::now();
    op->what = str(prefix(), dir == Dir::Send ? "send to" : "recv from", " rank ", peer, " (message #", op->seq, ", ",
                   dtype_name(t.dtype), t.shape.str(), ", ", op->nbytes, " bytes)");
    if (ch.state == Channel::State::Failed) {
      op->finished = true;
      op->error = ch.error;
      return op;
    }
    try {
      op->ready = event();
      call(api_.event_record(api_.self, op->ready, opt_.compute_stream), "cudaEventRecord on the compute stream");
      ch.queued.push_back(op);
      if (ch.state == Channel::State::Ready) issue_queued(ch);
    } catch (const ApiError& e) {
      fail_channel(ch, ErrorKind::Runtime, e.message, true);
    }
    return op;
  }

  // ---- progress (any thread, lock held) --------------------------------------------------------
  // Advances one channel: its set-up, NCCL's asynchronous error, completed messages, and the
  // watchdog's deadline.
  void progress(Channel& ch) {
    if (ch.state == Channel::State::Failed) return;
    try {
      if (ch.state == Channel::State::WaitingId) join(ch);
      if (ch.state == Channel::State::Initializing) {
        const NcclResult r = api_.comm_async_error(api_.self, ch.comm);
        if (r.failed()) return fail_channel(ch, ErrorKind::Runtime, str("NCCL set-up failed: ", r.message), true);
        if (r.ok()) {
          ch.state = Channel::State::Ready;
          issue_queued(ch);
        }
      }
      if (ch.state == Channel::State::WaitingId || ch.state == Channel::State::Initializing) {
        if (Clock::now() >= ch.init_deadline)
          fail_channel(ch, ErrorKind::Timeout,
                       str("the NCCL channel ", ch.name(), " rank ", ch.peer, " was not set up within ",
                           opt_.init_timeout.count(), " ms (is rank ", ch.peer, " alive and posting the matching ",
                           ch.dir == Dir::Send ? "receive" : "send", "?)"),
                       true);
        return;
      }
      const NcclResult r = api_.comm_async_error(api_.self, ch.comm);
      if (r.failed()) {
        // A peer that gave up on a mismatched message aborts, which reaches us as this error:
        // the mismatch is the better diagnosis when the header shows one.
        if (NcclOp* op = mismatched_front(ch)) return fail_channel(ch, ErrorKind::Runtime, mismatch(*op), true, op);
        return fail_channel(ch, ErrorKind::Runtime, str("NCCL reported an error on the channel ", ch.name(), " rank ",
                                                        ch.peer, ": ", r.message),
                            true);
      }
      retire(ch);
      if (!ch.inflight.empty() && Clock::now() - ch.inflight.front()->posted >= opt_.op_timeout)
        expire(ch, *ch.inflight.front(), opt_.op_timeout);
    } catch (const ApiError& e) {
      fail_channel(ch, ErrorKind::Runtime, e.message, true);
    } catch (const Error& e) {  // the store (a receiver fetching the id)
      fail_channel(ch, e.kind(), str("fetching the NCCL id from the store: ", e.what()), true);
    }
  }

  void progress_all() {
    for (auto& [key, ch] : channels_) progress(*ch);
  }

  // The op has been pending for `waited`: abort its channel, with the most precise reason known.
  void expire(Channel& ch, NcclOp& op, milliseconds waited) {
    if (ch.state == Channel::State::Failed) return;
    if (NcclOp* front = mismatched_front(ch); front == &op)
      return fail_channel(ch, ErrorKind::Runtime, mismatch(op), true, &op);
    fail_channel(ch, ErrorKind::Timeout,
                 str("not done after ", waited.count(), " ms (rank ", op.peer,
                     " may have died or posted a different sequence of messages); the NCCL channel was aborted"),
                 true, &op);
  }

  // ---- teardown --------------------------------------------------------------------------------
  void close() {
    std::lock_guard<std::mutex> lock(mu);
    if (closed_) return;
    closed_ = true;
    for (auto& [key, ch] : channels_) {
      const bool busy = !ch->queued.empty() || !ch->inflight.empty();
      if (ch->state != Channel::State::Failed)
        fail_channel(*ch, ErrorKind::Runtime, "cancelled: the transport was closed", busy);
      // A communicator with nothing pending is destroyed; one with messages pending is aborted
      // (done by fail_channel), since destroying it would wait for them.
      if (ch->comm != nullptr) quiet(api_.comm_destroy(api_.self, ch->comm));
      if (ch->stream != nullptr) quiet(api_.stream_destroy(api_.self, ch->stream));
      if (ch->dev_header != nullptr) quiet(api_.device_free(api_.self, ch->dev_header));
      if (ch->host_header != nullptr) quiet(api_.host_free(api_.self, ch->host_header));
      ch->comm = ch->stream = nullptr;
      ch->dev_header = ch->host_header = nullptr;
    }
    for (void* e : free_events_) quiet(api_.event_destroy(api_.self, e));
    free_events_.clear();
  }

  bool closed() const { return closed_; }

  // Lock held, op issued and not yet retired (so its done event is still its own).
  void stream_wait_locked(void* stream, const NcclOp& op) {
    const NcclResult r = api_.stream_wait_event(api_.self, stream, op.done);
    if (r.failed()) fail_runtime(op.what, ": cudaStreamWaitEvent failed: ", r.message);
  }

 private:
  std::string prefix() const { return str("nccl rank ", opt_.rank, ": "); }

  static void call(NcclResult r, const char* what) {
    if (r.failed()) throw ApiError{str(what, " failed: ", r.message)};
  }
  static void quiet(NcclResult) {}  // teardown: nothing left to report to

  void* event() {
    if (!free_events_.empty()) {
      void* e = free_events_.back();
      free_events_.pop_back();
      return e;
    }
    void* e = nullptr;
    call(api_.event_create(api_.self, &e), "cudaEventCreate");
    return e;
  }
  void recycle(void*& e) {
    if (e != nullptr) free_events_.push_back(e);
    e = nullptr;
  }
  void drop(void*& e) {  // an event that may still be pending on an aborted stream
    if (e != nullptr) quiet(api_.event_destroy(api_.self, e));
    e = nullptr;
  }

  uint64_t header(const NcclOp& op) const { return op.channel->host_header[op.seq % kRing]; }

  std::string mismatch(const NcclOp& op) const {
    return str("size mismatch: rank ", opt_.rank, " expects ", op.nbytes, " bytes but rank ", op.peer, " sent ",
               header(op), " (both ranks must post matching messages in the same order)");
  }

  // The oldest receive of the channel when its header has arrived and disagrees with its size
  // (its payload can then never complete), else null.
  NcclOp* mismatched_front(Channel& ch) {
    if (ch.dir != Dir::Recv || ch.inflight.empty()) return nullptr;
    NcclOp& op = *ch.inflight.front();
    if (!op.issued || !api_.event_query(api_.self, op.header_done).ok()) return nullptr;
    return header(op) != op.nbytes ? &op : nullptr;
  }

  Channel& channel(Dir dir, int peer) {
    if (peer < 0 || peer >= opt_.world || peer == opt_.rank)
      fail_runtime(prefix(), "no peer rank ", peer, " (world of ", opt_.world, ")");
    auto& slot = channels_[{peer, dir}];
    if (slot) return *slot;
    slot = std::make_unique<Channel>();
    Channel& ch = *slot;
    ch.dir = dir;
    ch.peer = peer;
    const int src = dir == Dir::Send ? opt_.rank : peer, dst = dir == Dir::Send ? peer : opt_.rank;
    ch.key = str(opt_.store_prefix, src, "->", dst, "/id");
    ch.init_deadline = Clock::now() + opt_.init_timeout;
    try {
      call(api_.set_device(api_.self, opt_.device), "cudaSetDevice");
      call(api_.stream_create(api_.self, &ch.stream), "cudaStreamCreate");
      void* p = nullptr;
      call(api_.host_alloc(api_.self, &p, kRing * kHeaderBytes), "cudaHostAlloc");
      ch.host_header = static_cast<uint64_t*>(p);
      call(api_.device_alloc(api_.self, &p, kRing * kHeaderBytes), "cudaMalloc");
      ch.dev_header = static_cast<uint64_t*>(p);
      if (dir == Dir::Send) {  // the sender makes the id; the receiver fetches it (join)
        NcclId id{};
        call(api_.get_unique_id(api_.self, &id), "ncclGetUniqueId");
        store_.set(ch.key, std::span<const uint8_t>(id.data(), id.size()));
        call(api_.comm_init_rank(api_.self, &ch.comm, 2, id, kSenderRank), "ncclCommInitRankConfig");
        ch.state = Channel::State::Initializing;
      }
    } catch (const ApiError& e) {
      fail_channel(ch, ErrorKind::Runtime, e.message, false);
    } catch (const Error& e) {
      fail_channel(ch, e.kind(), str("publishing the NCCL id in the store: ", e.what()), false);
    }
    return ch;
  }

  // Receiver: once the sender's id is in the store, start the communicator.
  void join(Channel& ch) {
    if (!store_.check({ch.key})) return;
    const std::vector<uint8_t> bytes = store_.get(ch.key, milliseconds(1000));
    NcclId id{};
    if (bytes.size() != id.size())
      throw ApiError{str("the NCCL id under '", ch.key, "' has ", bytes.size(), " bytes, expected ", id.size())};
    std::memcpy(id.data(), bytes.data(), id.size());
    call(api_.comm_init_rank(api_.self, &ch.comm, 2, id, kReceiverRank), "ncclCommInitRankConfig");
    ch.state = Channel::State::Initializing;
  }

  // A nonblocking communicator may still be enqueueing after a call returns: wait for it before
  // the next call (NCCL's rule for ncclInProgress). This is host-side enqueueing, not the
  // transfer, and normally takes microseconds.
  void settle(Channel& ch, NcclResult r, const char* what) {
    call(r, what);
    const Clock::time_point deadline = Clock::now() + opt_.init_timeout;
    while (r.pending()) {
      r = api_.comm_async_error(api_.self, ch.comm);
      call(r, what);
      if (r.pending() && Clock::now() >= deadline) throw ApiError{str(what, " still in progress after the deadline")};
    }
  }

  void issue_queued(Channel& ch) {
    while (!ch.queued.empty() && ch.state == Channel::State::Ready) {
      std::shared_ptr<NcclOp> op = ch.queued.front();
      ch.queued.pop_front();
      ch.inflight.push_back(op);  // before issuing: a failure below then fails it with the channel
      issue(ch, *op);
    }
  }

  // Enqueues one message on the channel's stream, after the compute work it was posted behind.
  void issue(Channel& ch, NcclOp& op) {
    const size_t slot = op.seq % kRing;
    call(api_.stream_wait_event(api_.self, ch.stream, op.ready), "cudaStreamWaitEvent");
    op.done = event();
    if (op.dir == Dir::Send) {
      ch.host_header[slot] = op.nbytes;  // the slot's previous message is retired (post's back-pressure)
      call(api_.copy_async(api_.self, ch.dev_header + slot, ch.host_header + slot, kHeaderBytes, ch.stream),
           "cudaMemcpyAsync (header)");
      // Header and payload in one group: one launch.
      call(api_.group_start(api_.self), "ncclGroupStart");
      call(api_.send(api_.self, ch.dev_header + slot, kHeaderBytes, kReceiverRank, ch.comm, ch.stream), "ncclSend");
      if (op.nbytes != 0)
        call(api_.send(api_.self, op.buf, op.nbytes, kReceiverRank, ch.comm, ch.stream), "ncclSend");
      settle(ch, api_.group_end(api_.self), "ncclGroupEnd");
    } else {
      // The header alone first, copied to pinned memory behind its own event: when the payload
      // hangs (a size mismatch), the watchdog can still read what the sender meant to send.
      op.header_done = event();
      call(api_.group_start(api_.self), "ncclGroupStart");
      call(api_.recv(api_.self, ch.dev_header + slot, kHeaderBytes, kSenderRank, ch.comm, ch.stream), "ncclRecv");
      settle(ch, api_.group_end(api_.self), "ncclGroupEnd");
      call(api_.copy_async(api_.self, ch.host_header + slot, ch.dev_header + slot, kHeaderBytes, ch.stream),
           "cudaMemcpyAsync (header)");
      call(api_.event_record(api_.self, op.header_done, ch.stream), "cudaEventRecord");
      if (op.nbytes != 0) {
        call(api_.group_start(api_.self), "ncclGroupStart");
        call(api_.recv(api_.self, op.buf, op.nbytes, kSenderRank, ch.comm, ch.stream), "ncclRecv");
        settle(ch, api_.group_end(api_.self), "ncclGroupEnd");
      }
    }
    call(api_.event_record(api_.self, op.done, ch.stream), "cudaEventRecord");
    op.issued = true;
  }

  // Completes the channel's messages whose done event was reached, in order.
  void retire(Channel& ch) {
    while (!ch.inflight.empty()) {
      NcclOp& op = *ch.inflight.front();
      const NcclResult r = api_.event_query(api_.self, op.done);
      call(r, "cudaEventQuery");
      if (r.pending()) return;
      if (op.dir == Dir::Recv) {
        if (header(op) != op.nbytes) return fail_channel(ch, ErrorKind::Runtime, mismatch(op), true, &op);
        bytes_received_ += op.nbytes;
        recvs_ += 1;
      } else {
        bytes_sent_ += op.nbytes;
        sends_ += 1;
      }
      op.finished = true;
      recycle(op.ready);
      recycle(op.header_done);
      recycle(op.done);
      ch.inflight.pop_front();
    }
  }

  // Fails the channel and every message on it. `culprit`, when given, gets `why` itself; the
  // others are told which message brought the channel down.
  void fail_channel(Channel& ch, ErrorKind kind, const std::string& why, bool abort, NcclOp* culprit = nullptr) {
    if (ch.state == Channel::State::Failed) return;
    ch.state = Channel::State::Failed;
    if (abort && ch.comm != nullptr) {
      quiet(api_.comm_abort(api_.self, ch.comm));
      ch.comm = nullptr;  // ncclCommAbort frees it
    }
    const std::string channel_why = str(prefix(), "channel ", ch.name(), " rank ", ch.peer, ": ", why);
    ch.error = std::make_exception_ptr(Error(kind, channel_why));
    auto fail = [&](NcclOp& op) {
      const std::string msg =
          &op == culprit ? str(op.what, ": ", why)
                         : (culprit ? str(op.what, ": failed with the channel: ", culprit->what, ": ", why)
                                    : str(op.what, ": ", why));
      op.error = std::make_exception_ptr(Error(kind, msg));
      op.finished = true;
      drop(op.ready);
      drop(op.header_done);
      drop(op.done);
    };
    for (auto& op : ch.inflight) fail(*op);
    for (auto& op : ch.queued) fail(*op);
    ch.inflight.clear();
    ch.queued.clear();
  }

  Store& store_;
  const NcclApi& api_;
  NcclTransportOptions opt_;
  std::map<std::pair<int, Dir>, std::unique_ptr<Channel>> channels_;
  std::vector<void*> free_events_;
  bool closed_ = false;
  std::atomic<uint64_t> bytes_sent_{0}, bytes_received_{0}, sends_{0}, recvs_{0};
};

class NcclCompletion final : public Completion {
 public:
  NcclCompletion(std::shared_ptr<Engine> engine, std::shared_ptr<NcclOp> op)
      : engine_(std::move(engine)), op_(std::move(op)) {}

  void wait(milliseconds timeout) override {
    const Clock::time_point start = Clock::now(), deadline = start + timeout;
    auto backoff = std::chrono::microseconds(20);
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(engine_->mu);
        if (check_locked()) return;
        if (Clock::now() >= deadline) {
          engine_->expire(*op_->channel, *op_, std::chrono::duration_cast<milliseconds>(Clock::now() - start));
          check_locked();  // throws the error just recorded
          return;
        }
      }
      std::this_thread::sleep_for(std::min<Clock::duration>(backoff, deadline - Clock::now()));
      backoff = std::min(backoff * 2, std::chrono::microseconds(1000));
    }
  }

  bool test() override {
    std::lock_guard<std::mutex> lock(engine_->mu);
    return check_locked();
  }

  bool made_by(const Engine& engine) const { return engine_.get() == &engine; }

  // nccl_stream_wait.
  void stream_wait(void* stream, milliseconds timeout) {
    const Clock::time_point start = Clock::now(), deadline = start + timeout;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(engine_->mu);
        if (!op_->finished) engine_->progress(*op_->channel);
        if (op_->finished) {
          if (op_->error) std::rethrow_exception(op_->error);
          return;  // complete and seen by the host: nothing left to order against
        }
        if (op_->issued) {
          engine_->stream_wait_locked(stream, *op_);
          return;
        }
        if (Clock::now() >= deadline) {
          engine_->expire(*op_->channel, *op_, std::chrono::duration_cast<milliseconds>(Clock::now() - start));
          std::rethrow_exception(op_->error);
        }
      }
      std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(1), deadline - Clock::now()));
    }
  }

 private:
  // Lock held: progress the op's channel; true once done, throws its error if it failed.
  bool check_locked() {
    if (!op_->finished) engine_->progress(*op_->channel);
    if (op_->finished && op_->error) std::rethrow_exception(op_->error);
    return op_->finished;
  }

  std::shared_ptr<Engine> engine_;
  std::shared_ptr<NcclOp> op_;
};

class NcclTransport final : public Transport {
 public:
  NcclTransport(Store& store, const NcclApi& api, NcclTransportOptions options)
      : engine_(std::make_shared<Engine>(store, api, std::move(options))), watchdog_([this] { watch(); }) {}

  ~NcclTransport() override {
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      stop_ = true;
    }
    stop_cv_.notify_all();
    watchdog_.join();
    engine_->close();
  }

  int rank() const override { return engine_->options().rank; }
  int world() const override { return engine_->options().world; }

  std::unique_ptr<Completion> send(const TensorView& t, int peer) override {
    check_tensor(t, "send to", peer);
    {
      std::lock_guard<std::mutex> lock(hook_mu_);
      if (hook_) hook_(t, peer);
    }
    return std::make_unique<NcclCompletion>(engine_, engine_->post(Dir::Send, t, peer));
  }
  std::unique_ptr<Completion> recv(const TensorView& t, int peer) override {
    check_tensor(t, "recv from", peer);
    return std::make_unique<NcclCompletion>(engine_, engine_->post(Dir::Recv, t, peer));
  }
  std::unique_ptr<Completion> send_i32(std::span<const int32_t> v, int peer) override {
    return host("send_i32 to", peer).send_i32(v, peer);
  }
  std::unique_ptr<Completion> recv_i32(std::span<int32_t> v, int peer) override {
    return host("recv_i32 from", peer).recv_i32(v, peer);
  }

  TransportStats stats() const override { return engine_->stats(); }
  bool carries(const Device& device, int) const override { return device == Device::cuda(engine_->options().device); }
  // Tensor messages wait on the device; int32 ones came from the host transport, which decides.
  void stream_wait(Completion& c, void* stream, milliseconds timeout) override {
    if (auto* nc = dynamic_cast<NcclCompletion*>(&c)) {
      if (!nc->made_by(*engine_))
        fail_runtime("nccl rank ", rank(), ": stream_wait: the completion comes from another NCCL transport");
      return nc->stream_wait(stream, timeout);
    }
    const NcclTransportOptions& o = engine_->options();
    if (!o.host)
      fail_runtime("nccl rank ", o.rank, ": stream_wait: the completion comes from another transport");
    o.host->stream_wait(c, stream, timeout);
  }
  void set_fault_hook(FaultHook hook) override {
    std::lock_guard<std::mutex> lock(hook_mu_);
    hook_ = std::move(hook);
  }

 private:
  void check_tensor(const TensorView& t, const char* op, int peer) const {
    const NcclTransportOptions& o = engine_->options();
    if (t.device.kind != DeviceKind::CUDA || t.device.index != o.device)
      fail_runtime("nccl rank ", o.rank, ": ", op, " rank ", peer, ": the tensor is on ", t.device.str(),
                   ", this transport sends from cuda:", o.device);
    if (t.data == nullptr && t.numel() != 0)
      fail_runtime("nccl rank ", o.rank, ": ", op, " rank ", peer, ": tensor ", t.shape.str(), " has no data");
  }

  Transport& host(const char* op, int peer) const {
    const NcclTransportOptions& o = engine_->options();
    if (!o.host)
      fail_runtime("nccl rank ", o.rank, ": ", op, " rank ", peer,
                   ": int32 messages travel over a host transport, and none was given");
    return *o.host;
  }

  // The watchdog: progresses every channel each poll_interval, so set-ups advance, completions
  // are seen and a dead peer is found even when nobody is waiting.
  void watch() {
    std::unique_lock<std::mutex> stop_lock(stop_mu_);
    while (!stop_cv_.wait_for(stop_lock, engine_->options().poll_interval, [this] { return stop_; })) {
      std::lock_guard<std::mutex> lock(engine_->mu);
      if (engine_->closed()) return;
      engine_->progress_all();
    }
  }

  std::shared_ptr<Engine> engine_;
  std::mutex hook_mu_;
  FaultHook hook_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread watchdog_;
};

}  // namespace

std::unique_ptr<Transport> nccl_transport_create(Store& store, const NcclApi& api, NcclTransportOptions options) {
  if (options.world < 1 || options.rank < 0 || options.rank >= options.world)
    fail_runtime("nccl transport: rank ", options.rank, " is outside a world of ", options.world);
  return std::make_unique<NcclTransport>(store, api, std::move(options));
}

void nccl_stream_wait(Completion& c, void* stream, std::chrono::milliseconds timeout) {
  auto* nc = dynamic_cast<NcclCompletion*>(&c);
  if (nc == nullptr) fail_runtime("nccl_stream_wait: the completion does not come from an NCCL transport");
  nc->stream_wait(stream, timeout);
}

}  // namespace ps
