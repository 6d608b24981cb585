// A client of the rendezvous store (tcp_store_server.h). It connects with retries until its
// deadline (rank 0 may start after the others), says HELLO with the job token, then sends one
// request at a time and reads its reply, every socket operation bounded by poll(). Calls from
// several threads are serialised on one connection, so a blocking get() holds up the others:
// give each rank (or each thread that blocks) its own client.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "runtime/comm/net.h"
#include "runtime/comm/store.h"
#include "runtime/comm/store_protocol.h"

namespace ps {

struct TcpStoreClientOptions {
  std::string address = "127.0.0.1";  // MASTER_ADDR
  uint16_t port = 0;                   // MASTER_PORT
  std::string token;                   // the job token (job_token.h)
  // Keep trying to connect until then; ps::Error(Timeout) naming the server afterwards.
  std::chrono::milliseconds connect_timeout{30000};
  // The reply to SET/ADD/CHECK must arrive within this; GET/WAIT get their own timeout plus this.
  std::chrono::milliseconds io_timeout{30000};
};

class TcpStoreClient final : public Store {
 public:
  // Connects and authenticates, or throws ps::Error naming the server.
  explicit TcpStoreClient(TcpStoreClientOptions options);

  void set(const std::string& key, std::span<const uint8_t> value) override;
  std::vector<uint8_t> get(const std::string& key, std::chrono::milliseconds timeout) override;
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) override;
  int64_t add(const std::string& key, int64_t delta) override;
  bool check(const std::vector<std::string>& keys) override;
  void erase(const std::vector<std::string>& keys) override;

  const std::string& endpoint() const { return endpoint_; }  // "127.0.0.1:29500"

 private:
  // Sends `request` and returns the reply, whose op must be one of `expect` or ERROR/TIMEOUT.
  // After any I/O failure the connection is closed and every later call fails naming the cause,
  // since a late reply would otherwise be read as the answer to the next request.
  StoreMessage call(const StoreMessage& request, const std::string& what, std::chrono::milliseconds reply_within);
  StoreMessage call_locked(const StoreMessage& request, const std::string& what,
                           std::chrono::milliseconds reply_within);
  [[noreturn]] void fail_io(const std::string& what, const net::IoResult& r);

  TcpStoreClientOptions opt_;
  std::string endpoint_;
  std::mutex mu_;
  net::Fd fd_;
  std::string broken_;  // why the connection was closed, for later calls
};

}  // namespace ps
