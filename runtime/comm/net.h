// POSIX socket helpers shared by the rendezvous store and the transports: address resolution,
// a connect and byte I/O that each end at a deadline (poll), printable addresses, and the choice
// of the local interface that reaches the master. Linux only.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ps {

// The address of this host's interface that routes to `master_addr` (an IPv4/IPv6 address or a
// host name): a UDP socket is connect()ed to it, which sends no packet but makes the kernel pick
// the source address. "127.0.0.1" for a loopback master. Bind the store and the transports here
// on multi-node runs so they listen on the interface the other nodes reach and nowhere else.
// An unresolvable name is InvalidInput naming it; no route is Runtime.
std::string local_address_for(const std::string& master_addr);

// "5 s", "1.5 s", "250 ms": durations in error messages.
std::string duration_str(std::chrono::milliseconds d);

namespace net {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline deadline_after(std::chrono::milliseconds d) { return Clock::now() + d; }
// Milliseconds left until `d`, clamped to [0, INT32_MAX] for poll().
int ms_until(Deadline d);

// A numeric socket address, resolved once.
struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string str() const;  // "127.0.0.1:29500", "[::1]:29500"
};
std::string sockaddr_str(const sockaddr* sa, socklen_t len);
// Resolves `host` (address or name) and `port`; the first result wins. InvalidInput naming
// `what` and the host when it does not resolve.
SockAddr resolve(const std::string& host, uint16_t port, const char* what);

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset();

 private:
  int fd_ = -1;
};

void set_nonblocking(int fd);

// One non-blocking connect attempt, waiting for it until `d`. Returns the connected socket, or
// an invalid Fd with `err` set to the errno that stopped it (ETIMEDOUT when `d` passed).
Fd connect_once(const SockAddr& addr, Deadline d, int& err);

enum class IoStatus { Ok, Closed, Timeout, Error };
struct IoResult {
  IoStatus status = IoStatus::Ok;
  int err = 0;  // errno for IoStatus::Error
  std::string str() const;  // "connection closed by the peer", "timed out", "Broken pipe"
};
// Blocking-style I/O on a non-blocking socket: poll until done or `d`. Never raises SIGPIPE.
IoResult write_all(int fd, const void* data, size_t n, Deadline d);
IoResult read_exact(int fd, void* data, size_t n, Deadline d);

}  // namespace net
}  // namespace ps
