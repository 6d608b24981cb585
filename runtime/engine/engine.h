// The generation engine: admission, slots, stop rules and results -- the one continuous-batching
// loop of both the one-process driver (runtime/drivers/generate.h: one slot group, the driver
// runs forward and sample) and a pipeline (its first stage: one group per micro-batch; the last
// stage samples and sends the tokens back).
//
// The KV-cache slots are split into groups. Each step of group g is one call of load(g, tokens):
//   1. accept: the tokens sampled for g's last step (one per sequence that had a logit row) are
//      applied; a finished sequence (stop id, stop rule, its max_new_tokens, the context) or a
//      cancelled one publishes its end and frees its slot;
//   2. fill: waiting requests take g's free slots at once (in source order, free slots in the
//      order they were freed), and g's next step is written: new prompts (whole, or
//      prefill_chunk rows per step) beside the running sequences' last tokens.
// When nothing is in flight and the source is open but has nothing pending, fill waits up to
// idle_wait for a request, then returns an empty step: an idle pipeline keeps running rounds.
//
// Scoring (forward mode): each step of group g takes g's slot count of the next requests, one
// row per prompt token (mlp: its input row); their results come from the stage with the head
// (results_format.h), so the engine forgets them.
//
// The engine ends the run: the step of the last group that closes the final round carries
// last_round. Scoring ends with the round that takes the last requests; generation with the
// first round in which no group had work (then nothing is in flight); both only once the source
// is closed and has nothing pending.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <span>
#include <vector>

#include "runtime/engine/batch.h"
#include "runtime/engine/request_source.h"
#include "runtime/engine/result_sink.h"
#include "runtime/engine/sequence.h"

namespace ps {

struct EngineConfig {
  Mode mode = Mode::Generate;
  int slots = 1;           // KV-cache slots in total (sequences per round)
  int groups = 1;          // slot groups: one per micro-batch, 1 in one process
  int64_t max_ctx = 1;     // KV-cache positions per slot
  GenerateDefaults defaults;
  int64_t prefill_chunk = 0;  // prompt rows per sequence per step; 0: the whole prompt at once
  // The longest a load waits for a request when nothing is in flight (an idle round's pace).
  std::chrono::milliseconds idle_wait{50};
  // Optional: a stop rule per request (stop strings on the decoded text), made when it is admitted.
  std::function<StopRule(const Request&)> stop_rule;
};

// What a step holds, for the driver's statistics.
struct StepInfo {
  int64_t prompt_rows = 0;  // rows of prompt tokens (the rest are decode rows)
};

class Engine {
 public:
  // The source and the sink must outlive the engine.
  Engine(const EngineConfig& cfg, RequestSource& source, ResultSink& sink);

  // One step of group g: accept(g, tokens), then fill(g, out). `tokens`: the tokens sampled for
  // g's last step (empty before its first).
  StepInfo load(int g, std::span<const int32_t> tokens, MicroBatch& out);
  // Applies the tokens sampled for g's last step, one per sequence it listed, in order (the
  // pipeline's drain round has no Load after it, and applies its last tokens with this).
  void accept(int g, std::span<const int32_t> tokens);
  StepInfo fill(int g, MicroBatch& out);

  // Slots of group g: [group_begin(g), group_begin(g + 1)), split as evenly as possible.
  int group_begin(int g) const;
  // Tokens awaited for group g: its last step's sampled sequences (what the sampler sends back).
  size_t awaited(int g) const;
  const EngineConfig& config() const { return cfg_; }

 private:
  struct Group {
    std::vector<Sequence> seqs;  // running, in admission order
    std::vector<int> free;       // free slots; the next one is at the back
  };

  void take_cancellations();
  void finish(Sequence& s, const std::string& reason, Group& group);
  void admit(Group& group);
  StepInfo fill_forward(int g, MicroBatch& out);
  bool idle() const;

  EngineConfig cfg_;
  RequestSource& source_;
  ResultSink& sink_;
  std::vector<Group> groups_;
  std::set<int32_t> cancel_;  // started requests cancelled, until their group's next load
  bool round_had_work_ = false;
};

}  // namespace ps
