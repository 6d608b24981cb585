// libFuzzer target: the rendezvous store's frame decoder over arbitrary bytes, as a stream of
// frames (the server decodes back to back from its receive buffer), with the post-HELLO and the
// pre-HELLO frame limits. Every decoded frame must re-encode to exactly the bytes it came from
// (the format has one encoding per message), and NeedMore must only come for a true prefix.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>
#include <vector>

#include "runtime/comm/store_protocol.h"
#include "tests/fuzz/fuzz_contract.h"

namespace {

constexpr const char* kTarget = "fuzz_store_decode";

void decode_stream(std::span<const uint8_t> buf, size_t max_frame) {
  while (!buf.empty()) {
    ps::StoreDecode d;
    try {
      d = ps::store_decode(buf, max_frame);
    } catch (const std::exception& e) {
      ps::fuzz::contract_violated(kTarget, std::string("store_decode threw (it reports errors in its result): ") + e.what());
    }
    if (d.status == ps::StoreDecode::Status::Error) {
      FUZZ_CHECK(kTarget, !d.error.empty());
      return;
    }
    if (d.status == ps::StoreDecode::Status::NeedMore) {
      // Only a frame that the buffer does not yet hold in full: under 4 bytes, or a length that
      // is within the limit and runs past the end.
      if (buf.size() >= 4) {
        const uint32_t len = uint32_t{buf[0]} | uint32_t{buf[1]} << 8 | uint32_t{buf[2]} << 16 | uint32_t{buf[3]} << 24;
        FUZZ_CHECK(kTarget, len >= 1 && len <= max_frame && buf.size() - 4 < len);
      }
      return;
    }
    FUZZ_CHECK(kTarget, d.consumed > 4 && d.consumed <= buf.size() && d.consumed - 4 <= max_frame);
    std::vector<uint8_t> again;
    try {
      again = ps::store_encode(d.message);
    } catch (const std::exception& e) {
      ps::fuzz::contract_violated(kTarget, std::string("a decoded frame does not re-encode: ") + e.what());
    }
    FUZZ_CHECK(kTarget, again.size() == d.consumed && std::equal(again.begin(), again.end(), buf.begin()));
    buf = buf.subspan(d.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> buf(data, size);
  decode_stream(buf, ps::kStoreMaxFrame);
  decode_stream(buf, ps::kStoreMaxHelloFrame);
  return 0;
}
