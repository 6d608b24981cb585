// The rendezvous: before anything else, every rank announces itself in the store and waits
// until all `world` ranks have, so a rank that never starts is named within the deadline rather
// than discovered later as a hang in the transport.
#pragma once

#include <chrono>

#include "runtime/comm/store.h"

namespace ps {

// Keys (under "rendezvous/"): each rank adds 1 to "rank/<r>"; rank 0 also sets "world".
// Throws ps::Error(Timeout) "rendezvous: ranks 2, 3 of 4 did not join within 5 s"; ps::Error when
// a rank joins twice (two workers with the same RANK) or the ranks disagree on the world size;
// InvalidInput when rank is outside [0, world).
void rendezvous_join(Store& store, int rank, int world, std::chrono::milliseconds timeout);

}  // namespace ps
