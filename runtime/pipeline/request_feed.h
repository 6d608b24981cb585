// The first stage's side of a pipeline run: which requests go into which micro-batch.
//
// Scoring (forward mode): each round takes the next `batch` requests of this replica's share,
// `batch / M` per micro-batch; slots are reused every round.
// Generation: the `batch` KV-cache slots are split into M groups, one per micro-batch, which stay
// in flight together (continuous generation). At Load of group g the tokens sampled for its
// sequences in the previous round are applied; a finished sequence (stop id, its own
// max_new_tokens, the context) publishes its result and frees its slot, and the next waiting
// request takes the slot at once: its prompt rows join the group's decode rows in this step.
//
// The feed also ends the run: the micro-batch that closes the final round carries last_round.
// Scoring ends with the round that takes the last requests; generation with the first round in
// which no group had work (then nothing is in flight).
#pragma once

#include <deque>
#include <span>
#include <vector>

#include "partitioner/workload.h"
#include "runtime/drivers/generate.h"
#include "runtime/io/requests.h"
#include "runtime/pipeline/micro_batch.h"
#include "runtime/pipeline/result_sink.h"

namespace ps {

struct FeedConfig {
  Mode mode = Mode::Generate;
  int batch = 1;          // sequences per round in total (KV-cache slots)
  int micro_batches = 1;
  int64_t max_ctx = 1;
  GenerateDefaults defaults;
};

class RequestFeed {
 public:
  // `share`: indices into `reqs` this replica runs, in order.
  RequestFeed(const std::vector<Request>& reqs, std::vector<size_t> share, const FeedConfig& cfg, ResultSink& sink);

  // Fills micro-batch `mb` for this round. For generation, `tokens` are the previous round's
  // sampled tokens of this group (empty in the first round).
  void load(int mb, std::span<const int32_t> tokens, MicroBatch& out);
  // Slots of group g: [group_begin(g), group_begin(g + 1)).
  int group_begin(int g) const;
  // Sequences in flight in group g (the count of tokens the last stage sends back for it).
  size_t group_size(int g) const { return groups_[static_cast<size_t>(g)].size(); }

 private:
  void apply_tokens(int mb, std::span<const int32_t> tokens);
  void admit(int mb);

  const std::vector<Request>& reqs_;
  FeedConfig cfg_;
  ResultSink& sink_;
  std::deque<size_t> waiting_;
  std::vector<std::vector<Sequence>> groups_;  // generation: sequences per group
  std::vector<std::vector<int>> free_slots_;   // generation: free slots per group
  bool round_had_work_ = false;
};

}  // namespace ps
