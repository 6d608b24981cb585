// libFuzzer target: a request JSONL file, each non-blank line through request_parse against a
// fixed tiny llama and a fixed tiny mlp (as requests_read does, line numbers from 1). On success
// it checks what the drivers rely on: token ids inside the vocabulary, the prompt within the
// context, an mlp input of the model's width with finite values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/io/requests.h"
#include "tests/fuzz/fuzz_contract.h"
#include "tests/fuzz/fuzz_fixtures.h"

namespace {

constexpr const char* kTarget = "fuzz_requests";

void check_line(std::string_view line, int64_t number, const ps::ModelSpec& spec) {
  const ps::RequestOrigin src{"requests.jsonl", number};
  ps::Request r;
  if (!ps::fuzz::accepts(kTarget, src.where(), [&] { r = ps::request_parse(line, spec, src); })) return;
  FUZZ_CHECK(kTarget, !ps::fuzz::has_nul_or_duplicate_key(line));  // json_parse is strict
  if (spec.family == ps::Family::Mlp) {
    FUZZ_CHECK(kTarget, static_cast<int64_t>(r.input.size()) == spec.input_size);
    for (float v : r.input) FUZZ_CHECK(kTarget, std::isfinite(v));
    return;
  }
  FUZZ_CHECK(kTarget, !r.prompt_ids.empty() && static_cast<int64_t>(r.prompt_ids.size()) <= spec.max_positions);
  for (int32_t t : r.prompt_ids) FUZZ_CHECK(kTarget, t >= 0 && t < spec.vocab_size);
  for (int32_t t : r.stop_ids) FUZZ_CHECK(kTarget, t >= 0 && t < spec.vocab_size);
  FUZZ_CHECK(kTarget, !r.max_new_tokens || *r.max_new_tokens >= 0);
  FUZZ_CHECK(kTarget, !r.temperature || (std::isfinite(*r.temperature) && *r.temperature >= 0.0f));
  FUZZ_CHECK(kTarget, !r.top_p || (*r.top_p > 0.0f && *r.top_p <= 1.0f));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  int64_t number = 0;
  for (size_t pos = 0; pos <= text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    ++number;
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // requests_read skips blank lines
    check_line(line, number, ps::fuzz::tiny_llama_spec());
    check_line(line, number, ps::fuzz::tiny_mlp_spec());
  }
  return 0;
}
