#include "runtime/bench/bench_config.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/hash.h"
#include "runtime/core/json_util.h"

namespace ps {

namespace {

const std::vector<std::string> kSweepKeys = {"micro_batches", "batch", "stages"};

}  // namespace

Sweep sweep_parse(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos)
    fail_input("--sweep '", text, "': expected key=v1,v2,... (keys: micro_batches, batch, stages)");
  Sweep s;
  s.key = text.substr(0, eq);
  if (std::find(kSweepKeys.begin(), kSweepKeys.end(), s.key) == kSweepKeys.end()) {
    const auto hint = did_you_mean(s.key, kSweepKeys);
    fail_input("--sweep '", text, "': unknown key '", s.key, "'",
               hint ? " (did you mean " + *hint + "?)" : std::string(), "; keys: micro_batches, batch, stages");
  }
  const std::string list = text.substr(eq + 1);
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t comma = std::min(list.find(',', pos), list.size());
    const std::string item = list.substr(pos, comma - pos);
    int64_t v = 0;
    const auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || p != item.data() + item.size() || v < 1 || v > (1 << 20))
      fail_input("--sweep '", text, "': '", item, "' is not an integer in 1..", 1 << 20);
    s.values.push_back(v);
    pos = comma + 1;
  }
  return s;
}

std::vector<BenchConfig> sweep_expand(const BenchConfig& base, const std::vector<Sweep>& sweeps) {
  std::vector<BenchConfig> out = {base};
  for (const Sweep& s : sweeps) {
    std::vector<BenchConfig> next;
    for (const BenchConfig& c : out)
      for (int64_t v : s.values) {
        BenchConfig x = c;
        if (s.key == "micro_batches")
          x.micro_batches = static_cast<int>(v);
        else if (s.key == "batch")
          x.batch = v;
        else
          x.stages = static_cast<int>(v);
        next.push_back(x);
      }
    out = std::move(next);
  }
  return out;
}

void bench_config_check(const BenchConfig& c, int layers) {
  if (c.batch_or_default() < c.micro_batches)
    fail_input("batch ", c.batch_or_default(), " cannot fill ", c.micro_batches, " micro-batches (",
               bench_config_str(c), ")");
  if (c.stages > layers)
    fail_input(c.stages, " stages for ", layers, " layers (", bench_config_str(c),
               "): a stage holds at least one layer");
  if (c.requests > 0 && c.requests < c.batch_or_default())
    fail_input(c.requests, " requests cannot fill a batch of ", c.batch_or_default(), " (", bench_config_str(c), ")");
}

std::string bench_config_str(const BenchConfig& c) {
  return str("stages=", c.stages, " micro_batches=", c.micro_batches, " batch=", c.batch_or_default());
}

std::string requests_synthetic(int64_t n, int64_t prompt_len, int64_t max_new_tokens, int64_t vocab, uint64_t seed) {
  if (vocab < 2) fail_input("synthetic requests: the vocabulary has ", vocab, " tokens");
  std::string out;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> ids(static_cast<size_t>(prompt_len));
    // splitmix64 mixes well, so neighbouring (request, position) pairs get unrelated ids.
    for (int64_t p = 0; p < prompt_len; ++p) {
      const uint64_t at = static_cast<uint64_t>(i) << 32 | static_cast<uint64_t>(p);
      const uint64_t h = splitmix64(splitmix64(seed) ^ splitmix64(at));
      ids[static_cast<size_t>(p)] = 1 + static_cast<int64_t>(h % static_cast<uint64_t>(vocab - 1));
    }
    Json j = {{"id", str("bench-", i)}, {"prompt_ids", ids}};
    if (max_new_tokens > 0) j["max_new_tokens"] = max_new_tokens;
    out += j.dump() + "\n";
  }
  return out;
}

}  // namespace ps
