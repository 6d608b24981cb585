#include "runtime/comm/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "runtime/core/error.h"

namespace ps {

std::string duration_str(std::chrono::milliseconds d) {
  const long long ms = d.count();
  if (ms < 1000) return str(ms, " ms");
  if (ms % 1000 == 0) return str(ms / 1000, " s");
  return str(ms / 1000, ".", (ms % 1000) / 100, " s");
}

std::string local_address_for(const std::string& master_addr) {
  // Any port will do: connect() on a UDP socket only selects a route, it sends nothing.
  const net::SockAddr master = net::resolve(master_addr, 9, "master address");
  net::Fd fd(::socket(master.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) fail_runtime("local_address_for: socket: ", std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&master.ss), master.len) != 0)
    fail_runtime("no route from this host to master address '", master_addr, "': ", std::strerror(errno));
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0)
    fail_runtime("local_address_for: getsockname: ", std::strerror(errno));
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&local), len, host, sizeof(host), nullptr, 0,
                    NI_NUMERICHOST) != 0)
    fail_runtime("local_address_for: cannot print the local address");
  return host;
}

namespace net {

int ms_until(Deadline d) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d - Clock::now()).count();
  if (left <= 0) return 0;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

std::string sockaddr_str(const sockaddr* sa, socklen_t len) {
  char host[NI_MAXHOST], port[NI_MAXSERV];
  if (::getnameinfo(sa, len, host, sizeof(host), port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "<unknown address>";
  return sa->sa_family == AF_INET6 ? str("[", host, "]:", port) : str(host, ":", port);
}

std::string SockAddr::str() const { return sockaddr_str(reinterpret_cast<const sockaddr*>(&ss), len); }

SockAddr resolve(const std::string& host, uint16_t port, const char* what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY) {
    // AI_ADDRCONFIG hides loopback-only names on hosts without a configured interface (network
    // namespaces in tests); retry without it before giving up.
    hints.ai_flags = AI_NUMERICSERV;
    rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  }
  if (rc != 0 || res == nullptr) fail_input("cannot resolve ", what, " '", host, "': ", ::gai_strerror(rc));
  SockAddr out;
  std::memcpy(&out.ss, res->ai_addr, res->ai_addrlen);
  out.len = res->ai_addrlen;
  ::freeaddrinfo(res);
  return out;
}

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    fail_runtime("fcntl(O_NONBLOCK): ", std::strerror(errno));
}

Fd connect_once(const SockAddr& addr, Deadline d, int& err) {
  Fd fd(::socket(addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    err = errno;
    return Fd();
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr.ss), addr.len) == 0) return fd;
  if (errno != EINPROGRESS) {
    err = errno;
    return Fd();
  }
  pollfd p{fd.get(), POLLOUT, 0};
  int rc;
  while ((rc = ::poll(&p, 1, ms_until(d))) < 0 && errno == EINTR) {
  }
  if (rc == 0) {
    err = ETIMEDOUT;
    return Fd();
  }
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  if (rc < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
  if (so_error != 0) {
    err = so_error;
    return Fd();
  }
  return fd;
}

std::string IoResult::str() const {
  switch (status) {
    case IoStatus::Ok: return "ok";
    case IoStatus::Closed: return "connection closed by the peer";
    case IoStatus::Timeout: return "timed out";
    case IoStatus::Error: return std::strerror(err);
  }
  return "?";
}

namespace {

// Waits until `fd` is ready for `events` or `d` passes.
IoResult wait_ready(int fd, short events, Deadline d) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int rc = ::poll(&p, 1, ms_until(d));
    if (rc > 0) return {};
    if (rc == 0) return {IoStatus::Timeout, 0};
    if (errno != EINTR) return {IoStatus::Error, errno};
  }
}

}  // namespace

IoResult write_all(int fd, const void* data, size_t n, Deadline d) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    // MSG_NOSIGNAL: a peer that went away is an error to report, not a SIGPIPE that kills us.
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const IoResult r = wait_ready(fd, POLLOUT, d);
      if (r.status != IoStatus::Ok) return r;
      continue;
    }
    if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) return {IoStatus::Closed, errno};
    return {IoStatus::Error, errno};
  }
  return {};
}

IoResult read_exact(int fd, void* data, size_t n, Deadline d) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r > 0) {
      p += r;
      n -= static_cast<size_t>(r);
      continue;
    }
    if (r == 0) return {IoStatus::Closed, 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const IoResult w = wait_ready(fd, POLLIN, d);
      if (w.status != IoStatus::Ok) return w;
      continue;
    }
    if (errno == ECONNRESET) return {IoStatus::Closed, errno};
    return {IoStatus::Error, errno};
  }
  return {};
}

}  // namespace net
}  // namespace ps
