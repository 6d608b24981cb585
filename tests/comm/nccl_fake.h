// A stand-in for the NCCL and CUDA entry points of NcclApi (runtime/comm/nccl_api.h), in host
// memory, for testing the NCCL transport's logic on machines without a GPU.
//
// Model. One FakeFabric is the whole job; each rank gets its own NcclApi table (FakeRank), so the
// fabric knows which rank owns each stream and communicator. A stream is a FIFO of tasks that the
// fabric runs, in order, whenever any rank calls into it (every entry point pumps). Tasks: event
// records and waits (with CUDA's "wait for the latest record" rule), copies, sends and receives,
// and test hooks (a gate the test opens, a host function). A send and a receive of the same
// two-rank communicator meet by sequence number in each direction and both must be at the head
// of their streams, with equal sizes: like NCCL, a send does not complete without its receive,
// and a size mismatch hangs. A communicator is ready once both ranks have called init.
//
// Failures the tests control: kill(rank) stops a rank's streams and makes its peers'
// communicators report an asynchronous error; an aborted communicator drops its pending
// transfers and its peer sees an error; group_end can report "in progress" a number of times.
#pragma once

#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/comm/nccl_api.h"

namespace ps::test {

class FakeFabric {
 public:
  struct Event {
    uint64_t recorded = 0, reached = 0;
  };
  struct Group;
  struct Endpoint {  // one rank's side of a two-rank communicator
    Group* group = nullptr;
    int comm_rank = 0, owner = 0;
    bool aborted = false;
  };
  struct Group {
    NcclId id{};
    Endpoint* ends[2] = {nullptr, nullptr};
    uint64_t next_send[2] = {0, 0}, next_recv[2] = {0, 0};  // by sender comm rank
    const char* error = nullptr;                            // asynchronous error, once set
  };
  struct Task {
    enum Kind { Record, Wait, Copy, Send, Recv, Gate, HostFn };
    explicit Task(Kind k) : kind(k) {}
    Kind kind;
    Event* event = nullptr;
    uint64_t gen = 0;
    void* dst = nullptr;
    const void* src = nullptr;
    size_t bytes = 0;
    Endpoint* end = nullptr;
    uint64_t seq = 0;
    std::shared_ptr<bool> open;
    std::function<void()> fn;
  };
  struct Stream {
    int owner = 0;
    std::deque<Task> tasks;
  };

  // ---- test controls -----------------------------------------------------------------------
  // A closed gate on `stream`: work enqueued after it waits until open_gate.
  std::shared_ptr<bool> add_gate(void* stream) {
    std::lock_guard<std::mutex> lock(mu_);
    auto open = std::make_shared<bool>(false);
    Task t{Task::Gate};
    t.open = open;
    static_cast<Stream*>(stream)->tasks.push_back(t);
    return open;
  }
  void open_gate(const std::shared_ptr<bool>& gate) {
    std::lock_guard<std::mutex> lock(mu_);
    *gate = true;
    pump();
  }
  // fn runs (under the fabric's lock: it must not call the api) when the stream reaches it.
  void add_host_fn(void* stream, std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    Task t{Task::HostFn};
    t.fn = std::move(fn);
    static_cast<Stream*>(stream)->tasks.push_back(std::move(t));
    pump();
  }
  // The rank dies: its streams stop, and every communicator it is part of reports an error to
  // its peer, as NCCL does once the peer's connections close.
  void kill(int rank) {
    std::lock_guard<std::mutex> lock(mu_);
    dead_.push_back(rank);
    for (auto& g : groups_)
      for (Endpoint* e : g->ends)
        if (e && e->owner == rank) g->error = "remote process exited or there was a network error (fake)";
  }
  void set_group_end_pending(int times) {
    std::lock_guard<std::mutex> lock(mu_);
    group_end_pending_ = times;
  }
  int aborts(int rank) {
    std::lock_guard<std::mutex> lock(mu_);
    return aborts_[rank];
  }
  int comm_inits() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(endpoints_.size());
  }

  // ---- the entry points (through FakeRank) -------------------------------------------------
  NcclResult get_unique_id(NcclId* id) {
    std::lock_guard<std::mutex> lock(mu_);
    *id = NcclId{};
    const uint64_t n = ++ids_;
    std::memcpy(id->data(), &n, sizeof n);
    return {};
  }
  NcclResult comm_init_rank(int owner, void** comm, int nranks, const NcclId& id, int rank) {
    std::lock_guard<std::mutex> lock(mu_);
    if (nranks != 2 || rank < 0 || rank > 1) return fail("fake: only two-rank communicators");
    Group*& g = by_id_[id];
    if (g == nullptr) {
      groups_.push_back(std::make_unique<Group>());
      g = groups_.back().get();
      g->id = id;
    }
    if (g->ends[rank] != nullptr) return fail("fake: rank joined twice");
    endpoints_.push_back(std::make_unique<Endpoint>(Endpoint{g, rank, owner, false}));
    g->ends[rank] = endpoints_.back().get();
    *comm = g->ends[rank];
    return {};
  }
  NcclResult comm_async_error(void* comm) {
    std::lock_guard<std::mutex> lock(mu_);
    pump();
    auto* e = static_cast<Endpoint*>(comm);
    if (e->group->error) return fail(e->group->error);
    if (!e->group->ends[0] || !e->group->ends[1]) return pending();  // the peer has not joined yet
    if (enqueue_pending_ > 0) {
      --enqueue_pending_;
      return pending();
    }
    return {};
  }
  NcclResult comm_abort(int owner, void* comm) {
    std::lock_guard<std::mutex> lock(mu_);
    auto* e = static_cast<Endpoint*>(comm);
    e->aborted = true;
    ++aborts_[owner];
    if (!e->group->error) e->group->error = "remote rank aborted its communicator (fake)";
    pump();
    return {};
  }
  NcclResult comm_destroy(void*) { return {}; }
  NcclResult group_start() { return {}; }
  NcclResult group_end() {
    std::lock_guard<std::mutex> lock(mu_);
    pump();
    if (group_end_pending_ > 0) {
      --group_end_pending_;
      enqueue_pending_ = 2;  // and comm_async_error says so twice more
      return pending();
    }
    return {};
  }
  NcclResult p2p(bool send, void* buf, size_t bytes, int peer, void* comm, void* stream) {
    std::lock_guard<std::mutex> lock(mu_);
    auto* e = static_cast<Endpoint*>(comm);
    if (peer != 1 - e->comm_rank) return fail("fake: bad peer");
    Task t{send ? Task::Send : Task::Recv};
    t.end = e;
    t.bytes = bytes;
    t.dst = buf;
    t.src = buf;
    const int sender = send ? e->comm_rank : peer;
    t.seq = send ? e->group->next_send[sender]++ : e->group->next_recv[sender]++;
    static_cast<Stream*>(stream)->tasks.push_back(t);
    pump();
    return {};
  }
  NcclResult stream_create(int owner, void** stream) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.push_back(std::make_unique<Stream>());
    streams_.back()->owner = owner;
    *stream = streams_.back().get();
    return {};
  }
  NcclResult event_create(void** event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::make_unique<Event>());
    *event = events_.back().get();
    return {};
  }
  NcclResult event_record(void* event, void* stream) {
    std::lock_guard<std::mutex> lock(mu_);
    auto* ev = static_cast<Event*>(event);
    Task t{Task::Record};
    t.event = ev;
    t.gen = ++ev->recorded;
    stream_or_default(stream).tasks.push_back(t);
    pump();
    return {};
  }
  NcclResult event_query(void* event) {
    std::lock_guard<std::mutex> lock(mu_);
    pump();
    auto* ev = static_cast<Event*>(event);
    return ev->reached >= ev->recorded ? NcclResult{} : pending();
  }
  NcclResult stream_wait_event(void* stream, void* event) {
    std::lock_guard<std::mutex> lock(mu_);
    auto* ev = static_cast<Event*>(event);
    Task t{Task::Wait};
    t.event = ev;
    t.gen = ev->recorded;
    stream_or_default(stream).tasks.push_back(t);
    pump();
    return {};
  }
  NcclResult alloc(void** ptr, size_t bytes) {
    *ptr = std::calloc(1, bytes);
    return *ptr ? NcclResult{} : fail("fake: out of memory");
  }
  NcclResult release(void* ptr) {
    std::free(ptr);
    return {};
  }
  NcclResult copy_async(void* dst, const void* src, size_t bytes, void* stream) {
    std::lock_guard<std::mutex> lock(mu_);
    Task t{Task::Copy};
    t.dst = dst;
    t.src = src;
    t.bytes = bytes;
    static_cast<Stream*>(stream)->tasks.push_back(t);
    pump();
    return {};
  }

 private:
  static NcclResult fail(const char* m) { return {NcclResult::Failed, m}; }
  static NcclResult pending() { return {NcclResult::Pending, "in progress"}; }

  Stream& stream_or_default(void* stream) {
    if (stream) return *static_cast<Stream*>(stream);
    if (!default_stream_) default_stream_ = std::make_unique<Stream>();
    return *default_stream_;
  }
  bool dead(int rank) const {
    for (int r : dead_)
      if (r == rank) return true;
    return false;
  }

  // The receive (or send) that `t` meets, if it is at the head of its stream.
  std::pair<Stream*, Task*> partner(const Task& t) {
    for (auto& s : streams_) {
      if (s->tasks.empty() || dead(s->owner)) continue;
      Task& h = s->tasks.front();
      const bool kinds = (t.kind == Task::Send && h.kind == Task::Recv) || (t.kind == Task::Recv && h.kind == Task::Send);
      if (kinds && h.end->group == t.end->group && h.end != t.end && h.seq == t.seq) return {s.get(), &h};
    }
    return {nullptr, nullptr};
  }

  // Runs every task that can run, until none can.
  void pump() {
    for (bool moved = true; moved;) {
      moved = false;
      std::vector<Stream*> all;
      for (auto& s : streams_) all.push_back(s.get());
      if (default_stream_) all.push_back(default_stream_.get());
      for (Stream* s : all) {
        while (!s->tasks.empty() && !dead(s->owner) && step(*s)) moved = true;
      }
    }
  }

  bool step(Stream& s) {
    Task& t = s.tasks.front();
    switch (t.kind) {
      case Task::Record: t.event->reached = std::max(t.event->reached, t.gen); break;
      case Task::Wait:
        if (t.event->reached < t.gen) return false;
        break;
      case Task::Copy: std::memcpy(t.dst, t.src, t.bytes); break;
      case Task::Gate:
        if (!*t.open) return false;
        break;
      case Task::HostFn: t.fn(); break;
      case Task::Send:
      case Task::Recv: {
        if (t.end->aborted) break;  // an aborted communicator's kernels exit
        auto [ps, pt] = partner(t);
        if (pt == nullptr || pt->end->aborted || pt->bytes != t.bytes) return false;
        const Task& snd = t.kind == Task::Send ? t : *pt;
        const Task& rcv = t.kind == Task::Send ? *pt : t;
        std::memcpy(rcv.dst, snd.src, t.bytes);
        ps->tasks.pop_front();
        break;
      }
    }
    s.tasks.pop_front();
    return true;
  }

  std::mutex mu_;
  uint64_t ids_ = 0;
  std::map<NcclId, Group*> by_id_;
  std::vector<std::unique_ptr<Group>> groups_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::unique_ptr<Stream> default_stream_;
  std::vector<std::unique_ptr<Event>> events_;  // kept until the fabric dies: tasks may point at them
  std::vector<int> dead_;
  std::map<int, int> aborts_;
  int group_end_pending_ = 0, enqueue_pending_ = 0;
};

// One rank's view of the fabric: its NcclApi table.
class FakeRank {
 public:
  FakeRank(FakeFabric& fabric, int rank) : fabric_(fabric), rank_(rank) {
    api_.self = this;
    api_.get_unique_id = [](void* s, NcclId* id) { return f(s).get_unique_id(id); };
    api_.comm_init_rank = [](void* s, void** c, int n, const NcclId& id, int r) {
      return f(s).comm_init_rank(me(s).rank_, c, n, id, r);
    };
    api_.comm_async_error = [](void* s, void* c) { return f(s).comm_async_error(c); };
    api_.comm_abort = [](void* s, void* c) { return f(s).comm_abort(me(s).rank_, c); };
    api_.comm_destroy = [](void* s, void* c) { return f(s).comm_destroy(c); };
    api_.group_start = [](void* s) { return f(s).group_start(); };
    api_.group_end = [](void* s) { return f(s).group_end(); };
    api_.send = [](void* s, const void* b, size_t n, int p, void* c, void* st) {
      return f(s).p2p(true, const_cast<void*>(b), n, p, c, st);
    };
    api_.recv = [](void* s, void* b, size_t n, int p, void* c, void* st) { return f(s).p2p(false, b, n, p, c, st); };
    api_.set_device = [](void*, int) { return NcclResult{}; };
    api_.stream_create = [](void* s, void** st) { return f(s).stream_create(me(s).rank_, st); };
    api_.stream_destroy = [](void*, void*) { return NcclResult{}; };
    api_.event_create = [](void* s, void** e) { return f(s).event_create(e); };
    api_.event_destroy = [](void*, void*) { return NcclResult{}; };
    api_.event_record = [](void* s, void* e, void* st) { return f(s).event_record(e, st); };
    api_.event_query = [](void* s, void* e) { return f(s).event_query(e); };
    api_.stream_wait_event = [](void* s, void* st, void* e) { return f(s).stream_wait_event(st, e); };
    api_.device_alloc = [](void* s, void** p, size_t n) { return f(s).alloc(p, n); };
    api_.device_free = [](void* s, void* p) { return f(s).release(p); };
    api_.host_alloc = [](void* s, void** p, size_t n) { return f(s).alloc(p, n); };
    api_.host_free = [](void* s, void* p) { return f(s).release(p); };
    api_.copy_async = [](void* s, void* d, const void* src, size_t n, void* st) {
      return f(s).copy_async(d, src, n, st);
    };
  }
  const NcclApi& api() const { return api_; }
  // A stream of this rank (the tests' compute streams).
  void* new_stream() {
    void* s = nullptr;
    fabric_.stream_create(rank_, &s);
    return s;
  }

 private:
  static FakeRank& me(void* self) { return *static_cast<FakeRank*>(self); }
  static FakeFabric& f(void* self) { return me(self).fabric_; }
  FakeFabric& fabric_;
  int rank_;
  NcclApi api_;
};

}  // namespace ps::test
