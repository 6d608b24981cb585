// The rendezvous store's server, hosted by rank 0: one background thread runs a poll() loop over
// the listening socket and every client connection. A GET or WAIT whose keys are not set yet is
// parked on its connection until a SET/ADD provides them or its deadline passes, so the thread
// never blocks on one client. Protocol: store_protocol.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace ps {

struct TcpStoreServerOptions {
  // The interface to listen on (an address or a host name): loopback for single-node runs, the
  // address that the other nodes reach (local_address_for(MASTER_ADDR)) otherwise.
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port; read it back with port()
  // Every connection must open with a HELLO carrying this token. Must not be empty.
  std::string token;
  // A connection that has not sent its HELLO by then is refused (a silent stranger holds no slot).
  std::chrono::milliseconds hello_timeout{10000};
};

class TcpStoreServer {
 public:
  // Binds, listens and starts serving. ps::Error naming address:port when the port is already in
  // use or the address is not one of this host's.
  explicit TcpStoreServer(TcpStoreServerOptions options);
  // Stops the thread and closes every connection; clients then see a closed connection.
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer&) = delete;
  TcpStoreServer& operator=(const TcpStoreServer&) = delete;

  uint16_t port() const;
  const std::string& address() const;
  std::string endpoint() const;  // "127.0.0.1:29500"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ps
