// The contract every fuzz target checks (README.md here): a reader of untrusted bytes may refuse
// them only with ps::Error(InvalidInput) whose message names the file it was given. Anything else
// -- another ps::Error kind (an internal check), a nlohmann or std exception, std::bad_alloc, a
// message that does not say which file -- is a bug: print it and trap, so that libFuzzer (or the
// replay test of a normal build) reports the input. ASan/UBSan report memory and UB bugs on their own.
#pragma once

#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/error.h"

namespace ps::fuzz {

[[noreturn]] inline void contract_violated(const char* target, const std::string& what) {
  std::fprintf(stderr, "%s: fuzz contract violated: %s\n", target, what.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

// Runs f(); true when it returned, false when it refused the input as it should. `file` is the
// name the target passed as the source, which the refusal must mention.
template <class F>
bool accepts(const char* target, const std::string& file, F&& f) {
  try {
    f();
    return true;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::InvalidInput)
      contract_violated(target, std::string("ps::Error that is not InvalidInput: ") + e.what());
    if (std::string(e.what()).find(file) == std::string::npos)
      contract_violated(target, "InvalidInput that does not name the file '" + file + "': " + e.what());
    return false;
  } catch (const std::exception& e) {
    contract_violated(target, std::string("exception other than ps::Error: ") + e.what());
  } catch (...) {
    contract_violated(target, "unknown exception");
  }
}

// What json_parse must refuse though nlohmann's own parser takes it: a NUL byte (nlohmann stops
// there) or a key twice in one object (nlohmann keeps the last). Found independently of
// json_parse: one key set per open object, from nlohmann's parser callback.
inline bool has_nul_or_duplicate_key(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return true;
  std::vector<std::set<std::string>> keys;
  bool duplicate = false;
  using E = nlohmann::json::parse_event_t;
  const auto on = [&](int, E e, nlohmann::json& v) {
    if (e == E::object_start) keys.emplace_back();
    if (e == E::object_end) keys.pop_back();
    if (e == E::key && !keys.back().insert(v.get<std::string>()).second) duplicate = true;
    return true;
  };
  const nlohmann::json parsed = nlohmann::json::parse(text.begin(), text.end(), on, /*allow_exceptions=*/false);
  (void)parsed;  // only the callback's finding matters
  return duplicate;
}

}  // namespace ps::fuzz

// A property of an accepted input that must hold (a round trip, an invariant the reader promises).
#define FUZZ_CHECK(target, cond) \
  do {                                                                            \
    if (!(cond)) ::ps::fuzz::contract_violated(target, "check failed: " #cond);   \
  } while (0)
