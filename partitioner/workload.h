// The workload a plan is made for: how many sequences go through the pipeline per round, in how
// many micro-batches, how long the prompts are and, when generating, how many tokens each gets.
// The cost model, the simulator and the plan file all read this one struct.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ps {

enum class Mode : uint8_t {
  Forward,   // score: one pass over the prompts (next token and its log-probabilities)
  Generate,  // a prefill pass, then one decode round per new token with a KV cache
};
const char* mode_name(Mode m);  // "forward", "generate"
std::optional<Mode> mode_parse(std::string_view s);

struct Workload {
  Mode mode = Mode::Forward;
  // Sequences per round for ONE pipeline replica (R replicas process R * batch), split into
  // micro_batches micro-batches of ceil(batch / micro_batches) sequences.
  int64_t batch = 1;
  int micro_batches = 1;
  int64_t prompt_len = 128;
  int64_t max_new_tokens = 0;  // generate only

  int64_t micro_batch_size() const { return (batch + micro_batches - 1) / micro_batches; }
  // Tokens a request produces (generate) or scores (forward), for throughput figures.
  int64_t tokens_per_sequence() const { return mode == Mode::Generate ? max_new_tokens : prompt_len; }
};

}  // namespace ps
