// Test-only fault injection, so that tests can prove the benchmark's `wrong` column (outputs
// checked against the one-stage run) catches a corrupted transfer. A worker started with
//   PIPESHARD_FAULT_CORRUPT_ACTIVATION=<rank>
// installs, on that rank, a transport fault hook that changes one element of the first
// activation tensor the rank sends. Unset (the normal case) it does nothing.
#pragma once

#include "runtime/comm/transport.h"

namespace ps {

constexpr const char* kFaultCorruptActivationEnv = "PIPESHARD_FAULT_CORRUPT_ACTIVATION";

// The hook that corrupts the first f32 tensor passed to it (its last element, which belongs to
// the last row: a sequence's last position, whose logits every mode reads), then nothing more.
Transport::FaultHook fault_corrupt_first_activation();
// The hook `env_value` (the variable's value, or nullptr) asks for on `rank`: empty when unset
// or naming another rank. InvalidInput when it is set to something else than a rank number.
Transport::FaultHook fault_hook_from_env(const char* env_value, int rank);

}  // namespace ps
