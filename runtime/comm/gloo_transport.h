// The Gloo transport: the Transport interface over Gloo's TCP pairs (Debian's libgloo), for
// tensors in host memory. One full mesh of TCP connections per job, bootstrapped through our
// store; sends and receives are Gloo unbound-buffer operations whose slots follow posting order.
//
// Gloo's connections carry no authentication or encryption: anyone who can reach the bound
// address can talk to them. Bind to loopback for single-node runs, to the interface of a trusted
// network otherwise.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "runtime/comm/store.h"
#include "runtime/comm/transport.h"

namespace ps {

struct GlooTransportOptions {
  int rank = 0;
  int world = 1;
  // Where Gloo's sockets listen: an address or host name of this host. "127.0.0.1" for
  // single-node runs; on multi-node runs the interface the user names, else
  // local_address_for(MASTER_ADDR) (net.h), the one that reaches rank 0.
  std::string bind_address = "127.0.0.1";
  // Deadline for the bootstrap: exchanging addresses through the store and connecting the pairs.
  std::chrono::milliseconds connect_timeout{30000};
  // Store keys go under this prefix, so several transports can share one store.
  std::string store_prefix = "gloo/";
};

// Connects to every other rank (all ranks call it; it returns once the mesh is up) or throws
// ps::Error naming this rank and what failed. Ignores SIGPIPE process-wide unless the program set
// its own handler: Gloo writes with writev(), and a peer that died must be an error naming it,
// not a signal that kills this process.
std::unique_ptr<Transport> gloo_transport_create(Store& store, const GlooTransportOptions& options);

}  // namespace ps
