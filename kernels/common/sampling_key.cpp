// The sampling random stream, keyed by (seed, request id, position) so that a sampled token does
// not depend on the stage split, the micro-batching, the thread count or the backend. Every
// backend must reproduce these bit for bit (the CUDA kernel included):
//
//   sample_request_hash(id) = FNV-1a 64 over the id's bytes:
//       h = 0xcbf29ce484222325; for each byte b: h = (h ^ b) * 0x100000001b3   (mod 2^64)
//   splitmix64(x): z = x + 0x9e3779b97f4a7c15
//                  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
//                  z = (z ^ (z >> 27)) * 0x94d049bb133111eb
//                  return z ^ (z >> 31)                                            (mod 2^64)
//   sample_uniform(key): h = splitmix64(seed)
//                        h = splitmix64(h ^ request_hash)
//                        h = splitmix64(h ^ uint64(position))    (two's complement)
//                        return (h >> 11) * 2^-53                 (exact: 53 bits, in [0, 1))
#include "kernels/common/op_params.h"

#include "runtime/core/hash.h"

namespace ps::ops {

uint64_t sample_request_hash(std::string_view request_id) { return fnv1a64(request_id); }

double sample_uniform(const SampleKey& key) {
  uint64_t h = splitmix64(key.seed);
  h = splitmix64(h ^ key.request_hash);
  h = splitmix64(h ^ static_cast<uint64_t>(key.position));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

}  // namespace ps::ops
