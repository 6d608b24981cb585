#include "runtime/comm/job_token.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "runtime/comm/store_protocol.h"
#include "runtime/core/error.h"

namespace ps {

std::optional<std::string> job_token_from_env() {
  const char* v = std::getenv(kJobTokenEnv);
  if (v == nullptr || *v == '\0') return std::nullopt;
  std::string token(v);
  if (token.size() > kStoreMaxToken)
    fail_input(kJobTokenEnv, " is ", token.size(), " bytes long (at most ", kStoreMaxToken, ")");
  return token;
}

std::string job_token_generate() {
  unsigned char raw[16];
  std::FILE* f = std::fopen("/dev/urandom", "rb");
  const size_t got = f != nullptr ? std::fread(raw, 1, sizeof(raw), f) : 0;
  if (f != nullptr) std::fclose(f);
  if (got != sizeof(raw)) fail_runtime("job token: cannot read /dev/urandom");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

bool job_token_equal(std::string_view given, std::string_view expected) {
  // Every byte of `expected` is visited whatever `given` holds; no early exit.
  volatile uint8_t diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto g = static_cast<uint8_t>(i < given.size() ? given[i] : 0);
    diff = static_cast<uint8_t>(diff | (g ^ static_cast<uint8_t>(expected[i])));
  }
  return diff == 0;
}

}  // namespace ps
