#include "runtime/comm/gloo_transport.h"

#include <gloo/transport/context.h>
#include <gloo/transport/tcp/device.h>
#include <gloo/transport/unbound_buffer.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "runtime/comm/gloo_store_adapter.h"
#include "runtime/comm/net.h"
#include "runtime/core/error.h"
#include "runtime/core/hash.h"

namespace ps {
namespace {

using gloo::transport::UnboundBuffer;

// Gloo treats the expiry of its own wait as fatal for the whole context, so its waits get a
// bound longer than any job; the deadlines callers see are enforced by Completion::wait.
constexpr auto kGlooWaitForever = std::chrono::hours(1000);

enum class Dir { Send, Recv };

// Slots. A message is two Gloo transfers on the pair: an 8-byte header carrying the sender's
// byte count, then the payload. Gloo matches transfers of one slot between two ranks in the
// order they were posted, so every header uses slot 0 and messages match in posting order. The
// payload's slot is derived from the byte count: Gloo aborts the process when a payload is longer
// than the receive posted for it, so a payload may only ever meet a receive of its own size,
// while the header lets the receiver report a mismatch instead of waiting for a payload that
// cannot match. Slots must come from a small set: Gloo keeps bookkeeping per slot it has seen,
// and a slot per message grew a long job's memory without bound (found by tools/soak.sh).
uint64_t header_slot(uint64_t) { return 0; }
uint64_t payload_slot(uint64_t, uint64_t nbytes) { return (splitmix64_mix(nbytes + 1) << 1) | 1; }

struct Counters {
  std::atomic<uint64_t> bytes_sent{0}, bytes_received{0}, sends{0}, recvs{0};
};

// One posted message, shared by its Completion and the channel that waits for it.
struct GlooOp {
  Dir dir = Dir::Send;
  int self = 0, peer = 0;
  uint64_t seq = 0;
  size_t nbytes = 0;    // sent, or expected by a receive
  std::string what;     // "gloo rank 1: recv from rank 0 (message #3, f32[2, 8], 64 bytes)"
  uint64_t header = 0;  // the sender's byte count, on the wire
  std::unique_ptr<UnboundBuffer> header_buf, payload_buf;

  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::exception_ptr error;

  void finish(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(m);
    if (done) return;
    done = true;
    error = std::move(e);
    cv.notify_all();
  }
  void fail(const std::string& why) { finish(std::make_exception_ptr(Error(ErrorKind::Runtime, what + ": " + why))); }
  // Wakes the channel thread out of Gloo's wait (Gloo's abort flag sticks until a wait sees it).
  void abort() {
    for (UnboundBuffer* b : {header_buf.get(), payload_buf.get()})
      if (b != nullptr) dir == Dir::Send ? b->abortWaitSend() : b->abortWaitRecv();
  }
};

// Blocks in Gloo until `op` is done, then records its outcome.
void complete(GlooOp& op, Counters& counters) {
  try {
    bool ok = false;
    if (op.dir == Dir::Send) {
      ok = op.header_buf->waitSend(kGlooWaitForever) && (!op.payload_buf || op.payload_buf->waitSend(kGlooWaitForever));
    } else {
      ok = op.header_buf->waitRecv(kGlooWaitForever);
      if (ok && op.header != op.nbytes)
        return op.fail(str("size mismatch: rank ", op.self, " expects ", op.nbytes, " bytes but rank ", op.peer,
                           " sent ", op.header, " (both ranks must post matching messages in the same order)"));
      ok = ok && (!op.payload_buf || op.payload_buf->waitRecv(kGlooWaitForever));
    }
    if (!ok) return op.fail("cancelled: the transport was closed");
    if (op.dir == Dir::Send) {
      counters.bytes_sent += op.nbytes;
      counters.sends += 1;
    } else {
      counters.bytes_received += op.nbytes;
      counters.recvs += 1;
    }
    op.finish(nullptr);
  } catch (const std::exception& e) {  // Gloo's IoException: the connection to the peer is gone
    op.fail(str("connection to rank ", op.peer, " lost: ", e.what()));
  }
}

// The messages of one direction with one peer, in posting order. Gloo completes them in that
// order on one TCP pair, so one thread waiting for them in turn observes every completion; a
// thread per channel (not per transport) keeps a slow peer from delaying another's completions.
class Channel {
 public:
  explicit Channel(Counters& counters) : counters_(counters), thread_([this] { run(); }) {}
  ~Channel() { stop(); }

  // Numbers the op and starts it under the channel's lock, so sequence numbers follow posting
  // order even when several threads post.
  template <class Start>
  void post(const std::shared_ptr<GlooOp>& op, Start&& start) {
    {
      std::lock_guard<std::mutex> lock(m_);
      op->seq = next_seq_++;
      try {
        start(*op);
      } catch (const std::exception& e) {  // e.g. the pair already closed because the peer died
        return op->fail(str("connection to rank ", op->peer, " lost: ", e.what()));
      }
      queue_.push_back(op);
    }
    cv_.notify_one();
  }

  // Aborts the op in flight, joins the thread and fails whatever was still queued.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (stopping_) return;
      stopping_ = true;
      if (!queue_.empty()) queue_.front()->abort();
    }
    cv_.notify_all();
    thread_.join();
    for (auto& op : queue_) op->fail("cancelled: the transport was closed");
    queue_.clear();
  }

 private:
  void run() {
    for (;;) {
      std::shared_ptr<GlooOp> op;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        op = queue_.front();
      }
      complete(*op, counters_);
      std::lock_guard<std::mutex> lock(m_);
      queue_.pop_front();
    }
  }

  Counters& counters_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<GlooOp>> queue_;
  uint64_t next_seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

class GlooCompletion final : public Completion {
 public:
  explicit GlooCompletion(std::shared_ptr<GlooOp> op) : op_(std::move(op)) {}
  void wait(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(op_->m);
    const auto bounded = std::min<std::chrono::milliseconds>(timeout, std::chrono::hours(24 * 365));
    if (!op_->cv.wait_for(lock, bounded, [&] { return op_->done; }))
      fail_timeout(op_->what, ": not done within ", duration_str(timeout));
    if (op_->error) std::rethrow_exception(op_->error);
  }
  bool test() override {
    std::lock_guard<std::mutex> lock(op_->m);
    if (op_->error) std::rethrow_exception(op_->error);
    return op_->done;
  }

 private:
  std::shared_ptr<GlooOp> op_;
};

// A rank's pair addresses in the store: for each peer, its rank (int32), the address's length
// (uint32) and the address bytes (Gloo's own encoding).
void address_append(std::vector<char>& out, int peer, const std::vector<char>& address) {
  const int32_t p = peer;
  const uint32_t n = static_cast<uint32_t>(address.size());
  out.insert(out.end(), reinterpret_cast<const char*>(&p), reinterpret_cast<const char*>(&p) + sizeof p);
  out.insert(out.end(), reinterpret_cast<const char*>(&n), reinterpret_cast<const char*>(&n) + sizeof n);
  out.insert(out.end(), address.begin(), address.end());
}

// The address that rank `owner` published for its pair with rank `self`.
std::vector<char> address_for(const std::vector<char>& blob, int owner, int self) {
  size_t at = 0;
  while (at < blob.size()) {
    int32_t p = 0;
    uint32_t n = 0;
    if (blob.size() - at < sizeof p + sizeof n) fail_runtime("the addresses rank ", owner, " published are truncated");
    std::memcpy(&p, blob.data() + at, sizeof p);
    std::memcpy(&n, blob.data() + at + sizeof p, sizeof n);
    at += sizeof p + sizeof n;
    if (n > blob.size() - at) fail_runtime("the addresses rank ", owner, " published are truncated");
    const auto begin = blob.begin() + static_cast<std::ptrdiff_t>(at);
    if (p == self) return std::vector<char>(begin, begin + static_cast<std::ptrdiff_t>(n));
    at += n;
  }
  fail_runtime("rank ", owner, " does not connect to rank ", self, " (both ends of a pair must list each other as peers)");
}

// Gloo writes with writev(), which raises SIGPIPE on a connection the peer has closed; the
// default action would kill this process before the error could name the peer.
void ignore_sigpipe_unless_handled() {
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
}

class GlooTransport final : public Transport {
 public:
  GlooTransport(Store& store, const GlooTransportOptions& o) : rank_(o.rank), world_(o.world) {
    if (world_ < 1 || rank_ < 0 || rank_ >= world_)
      fail_input("gloo transport: rank ", rank_, " is outside 0..", world_ - 1);
    const std::string self = str("gloo transport rank ", rank_, " of ", world_);
    ignore_sigpipe_unless_handled();
    gloo::transport::tcp::attr attr;
    attr.hostname = o.bind_address;
    std::shared_ptr<gloo::transport::Device> dev;
    try {
      dev = gloo::transport::tcp::CreateDevice(attr);
    } catch (const std::exception& e) {
      fail_runtime(self, ": cannot use address '", o.bind_address, "': ", e.what());
    }
    set_peers(o.peers);
    ctx_ = dev->createContext(rank_, world_);
    ctx_->setTimeout(o.connect_timeout);
    GlooStoreAdapter adapter(store, o.store_prefix, o.connect_timeout);
    try {
      connect_pairs(adapter);
    } catch (const Error& e) {
      rethrow_with_context(e, self + ": connecting to the other ranks");
    } catch (const std::exception& e) {
      fail_runtime(self, ": connecting to the other ranks: ", e.what());
    }
  }

  ~GlooTransport() override {
    for (auto& entry : channels_) entry.second->stop();
    for (int p : peers_) ctx_->getPair(p)->close();  // nothing more lands in buffers posted by ops still referenced
  }

  int rank() const override { return rank_; }
  int world() const override { return world_; }

  std::unique_ptr<Completion> send(const TensorView& t, int peer) override {
    check_host(t, "send to", peer);
    FaultHook hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hook = hook_;
    }
    if (hook) hook(t, peer);
    return post(Dir::Send, peer, t.data, t.nbytes(), tensor_kind(t));
  }
  std::unique_ptr<Completion> recv(const TensorView& t, int peer) override {
    check_host(t, "recv from", peer);
    return post(Dir::Recv, peer, t.data, t.nbytes(), tensor_kind(t));
  }
  std::unique_ptr<Completion> send_i32(std::span<const int32_t> v, int peer) override {
    // Gloo takes a non-const pointer for both directions; a send only reads it.
    return post(Dir::Send, peer, const_cast<int32_t*>(v.data()), v.size_bytes(), str("int32[", v.size(), "]"));
  }
  std::unique_ptr<Completion> recv_i32(std::span<int32_t> v, int peer) override {
    return post(Dir::Recv, peer, v.data(), v.size_bytes(), str("int32[", v.size(), "]"));
  }

  TransportStats stats() const override {
    return {counters_.bytes_sent.load(), counters_.bytes_received.load(), counters_.sends.load(),
            counters_.recvs.load()};
  }
  bool carries(const Device& device, int) const override { return device.is_cpu(); }
  void set_fault_hook(FaultHook hook) override {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(hook);
  }

 private:
  static std::string tensor_kind(const TensorView& t) { return str(dtype_name(t.dtype), t.shape.str()); }

  void check_host(const TensorView& t, const char* op, int peer) const {
    if (!t.device.is_cpu())
      fail_runtime("gloo rank ", rank_, ": ", op, " rank ", peer, ": the tensor is on ", t.device.str(),
                   "; the Gloo transport moves host memory");
    PS_CHECK(t.data != nullptr || t.nbytes() == 0, "gloo: tensor without memory");
  }

  // The peers, checked: other ranks of the world, each once; unset: every other rank.
  void set_peers(const std::optional<std::vector<int>>& peers) {
    is_peer_.assign(static_cast<size_t>(world_), false);
    for (int r = 0; r < world_; ++r)
      if (r != rank_ && (!peers || std::find(peers->begin(), peers->end(), r) != peers->end())) peers_.push_back(r);
    for (int p : peers ? *peers : peers_) {
      if (p < 0 || p >= world_ || p == rank_)
        fail_input("gloo transport rank ", rank_, " of ", world_, ": peer ", p, " is not another rank of the job");
      if (is_peer_[static_cast<size_t>(p)]) fail_input("gloo transport rank ", rank_, ": peer ", p, " listed twice");
      is_peer_[static_cast<size_t>(p)] = true;
    }
  }

  // Each rank publishes the address of its pair for each peer under its own key, then connects
  // its pairs in rank order, as Gloo's full mesh does: the end that waits for a connection waits
  // only for the end that makes it, which never waits, so the ranks cannot wait in a cycle.
  void connect_pairs(GlooStoreAdapter& store) {
    std::vector<char> mine;
    for (int p : peers_) address_append(mine, p, ctx_->createPair(p)->address().bytes());
    store.set(std::to_string(rank_), mine);
    for (int p : peers_) ctx_->getPair(p)->connect(address_for(store.get(std::to_string(p)), p, rank_));
  }

  std::unique_ptr<Completion> post(Dir dir, int peer, void* data, size_t nbytes, const std::string& kind) {
    const char* verb = dir == Dir::Send ? "send to" : "recv from";
    if (peer < 0 || peer >= world_ || peer == rank_)
      fail_runtime("gloo rank ", rank_, ": ", verb, " rank ", peer, ": not a peer (ranks 0..", world_ - 1,
                   " other than this one)");
    if (!is_peer_[static_cast<size_t>(peer)])
      fail_runtime("gloo rank ", rank_, ": ", verb, " rank ", peer, ": rank ", rank_, " is not connected to rank ", peer,
                   " (its peers: ", peers_str(), ")");
    auto op = std::make_shared<GlooOp>();
    op->dir = dir;
    op->self = rank_;
    op->peer = peer;
    op->nbytes = nbytes;
    op->header = dir == Dir::Send ? nbytes : 0;  // a receive learns it from the sender
    channel(dir, peer).post(op, [&](GlooOp& o) {
      o.what = str("gloo rank ", rank_, ": ", verb, " rank ", peer, " (message #", o.seq, ", ", kind, ", ", nbytes,
                   " bytes)");
      o.header_buf = ctx_->createUnboundBuffer(&o.header, sizeof(o.header));
      if (nbytes > 0) o.payload_buf = ctx_->createUnboundBuffer(data, nbytes);
      if (dir == Dir::Send) {
        o.header_buf->send(peer, header_slot(o.seq));
        if (o.payload_buf) o.payload_buf->send(peer, payload_slot(o.seq, nbytes));
      } else {
        o.header_buf->recv(peer, header_slot(o.seq));
        if (o.payload_buf) o.payload_buf->recv(peer, payload_slot(o.seq, nbytes));
      }
    });
    return std::make_unique<GlooCompletion>(std::move(op));
  }

  Channel& channel(Dir dir, int peer) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& ch = channels_[{dir == Dir::Send ? 0 : 1, peer}];
    if (!ch) ch = std::make_unique<Channel>(counters_);
    return *ch;
  }

  std::string peers_str() const {
    std::string out;
    for (int p : peers_) out += (out.empty() ? "" : ", ") + std::to_string(p);
    return out.empty() ? "none" : out;
  }

  int rank_, world_;
  std::vector<int> peers_;       // sorted
  std::vector<bool> is_peer_;  // by rank
  std::shared_ptr<gloo::transport::Context> ctx_;
  Counters counters_;
  std::mutex mu_;  // channels_, hook_
  std::map<std::pair<int, int>, std::unique_ptr<Channel>> channels_;  // (direction, peer), made on first use
  FaultHook hook_;
};

}  // namespace

std::unique_ptr<Transport> gloo_transport_create(Store& store, const GlooTransportOptions& options) {
  return std::make_unique<GlooTransport>(store, options);
}

}  // namespace ps
