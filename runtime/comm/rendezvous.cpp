#include "runtime/comm/rendezvous.h"

#include <string>
#include <vector>

#include "runtime/comm/net.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

std::string rank_key(int r) { return "rendezvous/rank/" + std::to_string(r); }
const char* const kWorldKey = "rendezvous/world";

// "rank 3" or "ranks 2, 3".
std::string ranks_str(const std::vector<int>& ranks) {
  std::string out = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out;
}

}  // namespace

void rendezvous_join(Store& store, int rank, int world, std::chrono::milliseconds timeout) {
  if (world < 1) fail_input("rendezvous: world size ", world, " must be at least 1");
  if (rank < 0 || rank >= world) fail_input("rendezvous: rank ", rank, " is outside 0..", world - 1);
  const net::Deadline deadline = net::deadline_after(timeout);
  auto left = [&] { return std::chrono::milliseconds(net::ms_until(deadline)); };

  if (rank == 0) store_set_string(store, kWorldKey, std::to_string(world));
  // add(), not set(): a second worker started with the same RANK sees 2 and stops here.
  if (store.add(rank_key(rank), 1) > 1)
    fail_runtime("rendezvous: rank ", rank, " joined more than once (two workers with the same RANK?)");

  std::vector<std::string> keys;
  for (int r = 0; r < world; ++r) keys.push_back(rank_key(r));
  try {
    store.wait(keys, left());
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Timeout) throw;
    std::vector<int> missing;
    for (int r = 0; r < world; ++r)
      if (!store.check({rank_key(r)})) missing.push_back(r);
    // Empty only if the last rank arrived between the timeout and the check: then all are here.
    if (!missing.empty())
      fail_timeout("rendezvous: ", ranks_str(missing), " of ", world, " did not join within ", duration_str(timeout));
  }

  const std::string world0 = store_get_string(store, kWorldKey, left());
  if (world0 != std::to_string(world))
    fail_runtime("rendezvous: this rank (", rank, ") has world size ", world, " but rank 0 has ", world0);
}

}  // namespace ps
