#include "runtime/comm/tcp_store_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "runtime/comm/job_token.h"
#include "runtime/comm/net.h"
#include "runtime/comm/store_protocol.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

using net::Clock;
using net::Deadline;

// A GET or WAIT whose keys are not all set yet.
struct Parked {
  StoreOp op;
  std::vector<std::string> keys;  // GET: its one key
  Deadline deadline;
};

// One client connection. It is always in one of three states: reading a request, parked on a
// GET/WAIT, or writing a reply; it is read only when idle, so a client that sends without
// reading its replies cannot make the server buffer without bound.
struct Conn {
  net::Fd fd;
  std::string peer;           // "127.0.0.1:5432", for log lines
  std::vector<uint8_t> in;    // received, not yet decoded
  std::vector<uint8_t> out;   // encoded replies, not yet sent
  size_t out_sent = 0;
  bool authenticated = false;
  bool closing = false;       // refused: close once the ERROR reply is out
  bool dead = false;          // removed at the end of this loop turn
  Deadline hello_deadline;
  std::optional<Parked> parked;

  bool idle() const { return !dead && !closing && !parked && out_sent == out.size(); }
};

int64_t parse_counter(const std::vector<uint8_t>& v, bool& ok) {
  const std::string s(v.begin(), v.end());
  errno = 0;
  char* end = nullptr;
  const long long x = s.empty() ? 0 : std::strtoll(s.c_str(), &end, 10);
  ok = !s.empty() && errno == 0 && end == s.c_str() + s.size();
  return x;
}

}  // namespace

struct TcpStoreServer::Impl {
  TcpStoreServerOptions opt;
  std::string endpoint;
  uint16_t port = 0;
  net::Fd listener;
  net::Fd wake_read, wake_write;  // a pipe: the destructor writes a byte to end the poll loop
  std::thread thread;
  std::unordered_map<std::string, std::vector<uint8_t>> table;
  std::vector<std::unique_ptr<Conn>> conns;
  Deadline accept_paused_until{};  // out of file descriptors: stop accepting for a moment

  void run();
  void turn();
  void accept_all();
  void read_from(Conn& c);
  void service(Conn& c);
  void handle(Conn& c, StoreMessage& m);
  bool finish_parked(Conn& c, bool deadline_passed);
  void reply(Conn& c, const StoreMessage& m);
  void flush(Conn& c);
  void refuse(Conn& c, const std::string& why);
};

TcpStoreServer::TcpStoreServer(TcpStoreServerOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.opt = std::move(options);
  if (s.opt.token.empty()) fail_input("store: the job token is empty (set ", kJobTokenEnv, ")");
  const net::SockAddr addr = net::resolve(s.opt.address, s.opt.port, "store address");
  const std::string where = addr.str();
  s.listener = net::Fd(::socket(addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.listener.valid()) fail_runtime("store: socket: ", std::strerror(errno));
  // SO_REUSEADDR lets a new job take the port while the last one's sockets sit in TIME_WAIT; on
  // Linux it does not let two listeners share a port, so "already in use" is still reported.
  const int on = 1;
  ::setsockopt(s.listener.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (::bind(s.listener.get(), reinterpret_cast<const sockaddr*>(&addr.ss), addr.len) != 0) {
    const int e = errno;
    if (e == EADDRINUSE)
      fail_runtime("store: cannot listen on ", where, ": address already in use (another job or program holds "
                   "this port; choose another MASTER_PORT)");
    if (e == EADDRNOTAVAIL)
      fail_runtime("store: cannot listen on ", where, ": the address is not one of this host's interfaces");
    fail_runtime("store: cannot listen on ", where, ": ", std::strerror(e));
  }
  if (::listen(s.listener.get(), 1024) != 0) fail_runtime("store: listen on ", where, ": ", std::strerror(errno));
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(s.listener.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  s.endpoint = net::sockaddr_str(reinterpret_cast<const sockaddr*>(&bound), len);
  s.port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                             : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) fail_runtime("store: pipe: ", std::strerror(errno));
  s.wake_read = net::Fd(p[0]);
  s.wake_write = net::Fd(p[1]);
  s.thread = std::thread([&s] { s.run(); });
}

TcpStoreServer::~TcpStoreServer() {
  const char b = 1;
  [[maybe_unused]] const ssize_t n = ::write(impl_->wake_write.get(), &b, 1);
  impl_->thread.join();
}

uint16_t TcpStoreServer::port() const { return impl_->port; }
const std::string& TcpStoreServer::address() const { return impl_->opt.address; }
std::string TcpStoreServer::endpoint() const { return impl_->endpoint; }

void TcpStoreServer::Impl::run() {
  try {
    for (;;) {
      const bool accepting = Clock::now() >= accept_paused_until;
      const short listen_events = accepting ? POLLIN : 0;
      std::vector<pollfd> fds{{wake_read.get(), POLLIN, 0}, {listener.get(), listen_events, 0}};
      Deadline next = accepting ? Clock::now() + std::chrono::hours(1) : accept_paused_until;
      for (const auto& c : conns) {
        // POLLRDHUP notices a client that leaves while its request is parked (only then: it would
        // fire on every turn for a half-closed client we are still writing to).
        short ev = c->parked ? POLLRDHUP : 0;
        if (c->idle()) ev |= POLLIN;
        if (c->out_sent < c->out.size()) ev |= POLLOUT;
        fds.push_back({c->fd.get(), ev, 0});
        if (!c->authenticated) next = std::min(next, c->hello_deadline);
        if (c->parked) next = std::min(next, c->parked->deadline);
      }
      const int rc = ::poll(fds.data(), fds.size(), net::ms_until(next));
      if (rc < 0 && errno != EINTR) fail_runtime("poll: ", std::strerror(errno));
      if (fds[0].revents != 0) return;
      const size_t polled = conns.size();
      if (fds[1].revents & POLLIN) accept_all();
      for (size_t i = 0; i < polled; ++i) {
        Conn& c = *conns[i];
        const short re = fds[i + 2].revents;
        if (re & (POLLOUT | POLLHUP | POLLERR)) flush(c);  // a send that fails marks it dead
        if (c.dead) continue;
        if (c.parked && (re & (POLLRDHUP | POLLHUP | POLLERR))) c.dead = true;  // left while waiting
        else if (re & (POLLIN | POLLHUP | POLLERR)) read_from(c);
      }
      turn();
    }
  } catch (const std::exception& e) {
    // Clients see their connections close and fail with the server's address named.
    std::fprintf(stderr, "store: server on %s stopped: %s\n", endpoint.c_str(), e.what());
  }
}

// Deadlines, then any request that became decodable, then cleanup.
void TcpStoreServer::Impl::turn() {
  const Deadline now = Clock::now();
  for (auto& c : conns) {
    if (c->dead) continue;
    if (!c->authenticated && !c->closing && now >= c->hello_deadline)
      refuse(*c, str("no HELLO within ", duration_str(opt.hello_timeout)));
    else if (c->parked && now >= c->parked->deadline)
      finish_parked(*c, true);
    service(*c);
  }
  conns.erase(std::remove_if(conns.begin(), conns.end(), [](const auto& c) { return c->dead; }), conns.end());
}

void TcpStoreServer::Impl::accept_all() {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    const int fd = ::accept4(listener.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      std::fprintf(stderr, "store: accept on %s: %s\n", endpoint.c_str(), std::strerror(errno));
      // EMFILE and the like leave the listener readable: pause instead of spinning on it.
      accept_paused_until = Clock::now() + std::chrono::milliseconds(100);
      return;
    }
    auto c = std::make_unique<Conn>();
    c->fd = net::Fd(fd);
    c->peer = net::sockaddr_str(reinterpret_cast<const sockaddr*>(&ss), len);
    c->hello_deadline = Clock::now() + opt.hello_timeout;
    const int on = 1;  // replies are small and awaited: no Nagle delay
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    conns.push_back(std::move(c));
  }
}

void TcpStoreServer::Impl::read_from(Conn& c) {
  uint8_t buf[1 << 16];
  while (c.idle()) {
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      c.in.insert(c.in.end(), buf, buf + n);
      service(c);  // decoding per chunk refuses an oversized frame before it is buffered
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (!c.authenticated) refuse(c, n == 0 ? "closed before sending HELLO" : std::strerror(errno));
    c.dead = true;  // an authenticated client leaving is the normal end
    return;
  }
}

void TcpStoreServer::Impl::service(Conn& c) {
  while (c.idle()) {
    StoreDecode d = store_decode(c.in, c.authenticated ? kStoreMaxFrame : kStoreMaxHelloFrame);
    if (d.status == StoreDecode::Status::NeedMore) return;
    if (d.status == StoreDecode::Status::Error) return refuse(c, "malformed message: " + d.error);
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(d.consumed));
    try {
      handle(c, d.message);
    } catch (const std::exception& e) {  // the thread serves everyone: one bad request ends one connection
      refuse(c, e.what());
    }
  }
}

void TcpStoreServer::Impl::handle(Conn& c, StoreMessage& m) {
  if (!c.authenticated) {
    if (m.op != StoreOp::Hello) return refuse(c, str("expected HELLO, got ", store_op_name(m.op)));
    if (m.version != kStoreProtocolVersion)
      return refuse(c, str("protocol version ", m.version, " (this server speaks ", kStoreProtocolVersion, ")"));
    if (!job_token_equal(m.token, opt.token)) return refuse(c, "bad job token");
    c.authenticated = true;
    return reply(c, store_ok());
  }
  switch (m.op) {
    case StoreOp::Set:
      table[m.key] = std::move(m.value);
      reply(c, store_ok());
      for (auto& other : conns)  // wake the parked requests this SET satisfies
        if (other->parked && !other->dead) finish_parked(*other, false);
      return;
    case StoreOp::Get:
    case StoreOp::Wait: {
      std::vector<std::string> keys = m.op == StoreOp::Get ? std::vector<std::string>{m.key} : std::move(m.keys);
      c.parked = Parked{m.op, std::move(keys), Clock::now() + std::chrono::milliseconds(m.timeout_ms)};
      finish_parked(c, m.timeout_ms == 0);
      return;
    }
    case StoreOp::Add: {
      auto it = table.find(m.key);
      bool ok = true;
      const int64_t old = it == table.end() ? 0 : parse_counter(it->second, ok);
      int64_t sum = 0;
      if (!ok) return reply(c, store_error("ADD '" + m.key + "': the value is not an integer"));
      if (__builtin_add_overflow(old, m.number, &sum))
        return reply(c, store_error("ADD '" + m.key + "': integer overflow"));
      const std::string text = std::to_string(sum);
      table[m.key] = std::vector<uint8_t>(text.begin(), text.end());
      reply(c, store_int(sum));
      for (auto& other : conns)
        if (other->parked && !other->dead) finish_parked(*other, false);
      return;
    }
    case StoreOp::Check: {
      const bool all = std::all_of(m.keys.begin(), m.keys.end(), [&](const std::string& k) { return table.count(k); });
      return reply(c, store_bool(all));
    }
    case StoreOp::Delete:
      for (const std::string& k : m.keys) table.erase(k);
      return reply(c, store_ok());
    case StoreOp::Hello: return refuse(c, "second HELLO");
    default: return refuse(c, str("unexpected ", store_op_name(m.op), " frame from a client"));
  }
}

bool TcpStoreServer::Impl::finish_parked(Conn& c, bool deadline_passed) {
  const Parked& p = *c.parked;
  std::vector<std::string> missing;
  for (const std::string& k : p.keys)
    if (!table.count(k)) missing.push_back(k);
  if (missing.empty()) {
    const StoreMessage r = p.op == StoreOp::Get ? store_value(table[p.keys[0]]) : store_ok();
    c.parked.reset();
    reply(c, r);
    return true;
  }
  if (!deadline_passed) return false;
  c.parked.reset();
  reply(c, store_timeout(std::move(missing)));
  return true;
}

void TcpStoreServer::Impl::reply(Conn& c, const StoreMessage& m) {
  const std::vector<uint8_t> frame = store_encode(m);
  c.out.insert(c.out.end(), frame.begin(), frame.end());
  flush(c);
}

void TcpStoreServer::Impl::flush(Conn& c) {
  while (c.out_sent < c.out.size()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_sent, c.out.size() - c.out_sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // poll says when to go on
    c.dead = true;  // the client is gone
    return;
  }
  c.out.clear();
  c.out_sent = 0;
  if (c.closing) c.dead = true;
}

void TcpStoreServer::Impl::refuse(Conn& c, const std::string& why) {
  // One line per connection, then that connection only is closed; the reason also goes back to
  // the client so a worker with the wrong token says so instead of "connection closed".
  std::fprintf(stderr, "store: %s connection from %s: %s\n", c.authenticated ? "dropped" : "refused",
               c.peer.c_str(), why.c_str());
  c.closing = true;
  c.parked.reset();
  c.in.clear();
  reply(c, store_error(why));
}

}  // namespace ps
