// The job token: a shared secret every worker of one job presents to the rendezvous store, so a
// stray or hostile connection (another job on the same port, a port scanner) is refused. The
// launcher makes one per job and hands it to its workers in PIPESHARD_JOB_TOKEN; on multi-node
// runs the user sets the same PIPESHARD_JOB_TOKEN on every node.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ps {

constexpr const char* kJobTokenEnv = "PIPESHARD_JOB_TOKEN";

// PIPESHARD_JOB_TOKEN when set and non-empty. InvalidInput naming the variable when it is longer
// than the protocol allows (256 bytes).
std::optional<std::string> job_token_from_env();
// 32 hex characters (128 bits) from /dev/urandom.
std::string job_token_generate();
// Compares in time that depends only on `expected`'s length, so the time a refusal takes says
// nothing about how much of a guess was right.
bool job_token_equal(std::string_view given, std::string_view expected);

}  // namespace ps
