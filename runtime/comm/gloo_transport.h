// The Gloo transport: the Transport interface over Gloo's TCP pairs (Debian's libgloo), for
// tensors in host memory. One TCP connection per pair of ranks that talk (the pipeline's
// neighbours and its first and last stage: topology_link_peers, partitioner/topology.h), not a
// full mesh, bootstrapped through our store; sends and receives are Gloo unbound-buffer
// operations whose slots follow posting order.
//
// Gloo's connections carry no authentication or encryption: anyone who can reach the bound
// address can talk to them. Bind to loopback for single-node runs, to the interface of a trusted
// network otherwise.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  // The ranks this one exchanges messages with; unset: every other rank (a full mesh). Both ends
  // of a pair must list each other. A send or receive to any other rank fails at once.
  std::optional<std::vector<int>> peers;
};

// Connects to each peer (every rank calls it; it returns once its pairs are up) or throws
// ps::Error naming this rank and what failed. Ignores SIGPIPE process-wide unless the program set
// its own handler: Gloo writes with writev(), and a peer that died must be an error naming it,
// not a signal that kills this process.
std::unique_ptr<Transport> gloo_transport_create(Store& store, const GlooTransportOptions& options);

}  // namespace ps
