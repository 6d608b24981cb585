// Helpers for the comm tests: a store server on loopback with a fixed token, clients for it, a
// raw socket that speaks bytes of our choosing, and running one function per rank on threads.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/comm/net.h"
#include "runtime/comm/store_protocol.h"
#include "runtime/comm/tcp_store_client.h"
#include "runtime/comm/tcp_store_server.h"
#include "runtime/core/error.h"

namespace ps::test {

inline const std::string kToken = "test-job-token-0123456789";
using std::chrono::milliseconds;

inline std::unique_ptr<TcpStoreServer> start_server(milliseconds hello_timeout = milliseconds(10000)) {
  TcpStoreServerOptions o;
  o.token = kToken;
  o.hello_timeout = hello_timeout;
  return std::make_unique<TcpStoreServer>(o);
}

inline std::unique_ptr<TcpStoreClient> connect_client(const TcpStoreServer& s, const std::string& token = kToken) {
  TcpStoreClientOptions o;
  o.port = s.port();
  o.token = token;
  o.connect_timeout = milliseconds(10000);
  o.io_timeout = milliseconds(10000);
  return std::make_unique<TcpStoreClient>(o);
}

// A plain TCP connection to the server, for sending what a real client never would.
struct RawConn {
  net::Fd fd;
  explicit RawConn(const TcpStoreServer& s) {
    int err = 0;
    fd = net::connect_once(net::resolve("127.0.0.1", s.port(), "test"), net::deadline_after(milliseconds(5000)), err);
    if (!fd.valid()) throw std::runtime_error("raw connect failed");
  }
  void send(const std::vector<uint8_t>& bytes) {
    net::write_all(fd.get(), bytes.data(), bytes.size(), net::deadline_after(milliseconds(5000)));
  }
  // Every byte until the server closes the connection (or 10 s pass: then the test fails).
  std::vector<uint8_t> read_until_closed() {
    std::vector<uint8_t> all;
    uint8_t b;
    for (;;) {
      const net::IoResult r = net::read_exact(fd.get(), &b, 1, net::deadline_after(milliseconds(10000)));
      if (r.status == net::IoStatus::Closed) return all;
      EXPECT_EQ(r.status, net::IoStatus::Ok) << "the server did not close the connection: " << r.str();
      if (r.status != net::IoStatus::Ok) return all;
      all.push_back(b);
    }
  }
};

inline std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Runs f(rank) on `world` threads and rethrows the first exception.
inline void run_ranks(int world, const std::function<void(int)>& f) {
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        f(r);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// The message of the ps::Error that f throws, checking its kind; "" (and a test failure) if none.
template <class F>
std::string error_of(F&& f, ErrorKind kind) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a ps::Error";
  return "";
}

}  // namespace ps::test
