#include "runtime/pipeline/request_feed.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ps {

RequestFeed::RequestFeed(const std::vector<Request>& reqs, std::vector<size_t> share, const FeedConfig& cfg,
                         ResultSink& sink)
    : reqs_(reqs), cfg_(cfg), sink_(sink), waiting_(share.begin(), share.end()) {
  PS_CHECK(cfg.batch >= 1 && cfg.micro_batches >= 1);
  groups_.resize(static_cast<size_t>(cfg.micro_batches));
  free_slots_.resize(static_cast<size_t>(cfg.micro_batches));
  for (int g = 0; g < cfg.micro_batches; ++g)
    for (int s = group_begin(g + 1) - 1; s >= group_begin(g); --s) free_slots_[static_cast<size_t>(g)].push_back(s);
}

int RequestFeed::group_begin(int g) const {
  // Slots split as evenly as possible; earlier groups take the remainder.
  const int base = cfg_.batch / cfg_.micro_batches, extra = cfg_.batch % cfg_.micro_batches;
  return g * base + std::min(g, extra);
}

void RequestFeed::apply_tokens(int mb, std::span<const int32_t> tokens) {
  auto& group = groups_[static_cast<size_t>(mb)];
  PS_CHECK(tokens.size() == group.size(), "group ", mb, ": ", tokens.size(), " tokens for ", group.size(), " sequences");
  std::vector<Sequence> still;
  for (size_t i = 0; i < group.size(); ++i) {
    Sequence& s = group[i];
    if (auto reason = sequence_accept(s, tokens[i], cfg_.max_ctx)) {
      const Json fields = {{"output_ids", std::vector<int32_t>(s.tokens.begin() + static_cast<std::ptrdiff_t>(s.prompt_len),
                                                                s.tokens.end())},
                           {"finish_reason", *reason}};
      sink_.publish(static_cast<int32_t>(s.request), fields.dump());
      free_slots_[static_cast<size_t>(mb)].push_back(s.slot);
    } else {
      still.push_back(std::move(s));
    }
  }
  group = std::move(still);
}

void RequestFeed::admit(int mb) {
  auto& group = groups_[static_cast<size_t>(mb)];
  auto& free = free_slots_[static_cast<size_t>(mb)];
  while (!waiting_.empty() && !free.empty()) {
    const size_t i = waiting_.front();
    waiting_.pop_front();
    Sequence s = sequence_start(reqs_[i], i, cfg_.defaults);
    if (s.max_new_tokens == 0 || static_cast<int64_t>(s.prompt_len) >= cfg_.max_ctx) {
      const Json fields = {{"output_ids", Json::array()}, {"finish_reason", "length"}};
      sink_.publish(static_cast<int32_t>(i), fields.dump());
      continue;
    }
    s.slot = free.back();
    free.pop_back();
    group.push_back(std::move(s));
  }
}

void RequestFeed::load(int mb, std::span<const int32_t> tokens, MicroBatch& out) {
  out.clear();
  if (mb == 0) round_had_work_ = false;
  if (cfg_.mode == Mode::Forward) {
    // This micro-batch's share of the round: its group's slot count of the next requests.
    const int n = group_begin(mb + 1) - group_begin(mb);
    for (int k = 0; k < n && !waiting_.empty(); ++k) {
      const size_t i = waiting_.front();
      waiting_.pop_front();
      const auto& ids = reqs_[i].prompt_ids;
      const int slot = group_begin(mb) + k;
      for (size_t p = 0; p < ids.size(); ++p) {
        out.batch.tokens.push_back(ids[p]);
        out.batch.slots.push_back(slot);
        out.batch.positions.push_back(static_cast<int32_t>(p));
      }
      if (ids.empty()) {  // mlp: one row of numbers per request
        out.inputs.insert(out.inputs.end(), reqs_[i].input.begin(), reqs_[i].input.end());
        out.batch.slots.push_back(0);
        out.batch.positions.push_back(0);
      }
      out.batch.logit_rows.push_back(static_cast<int32_t>(out.batch.slots.size() - 1));
      out.seqs.push_back({static_cast<int32_t>(i), {}, {}});
    }
    out.last_round = mb == cfg_.micro_batches - 1 && waiting_.empty();
    return;
  }
  if (!tokens.empty() || !groups_[static_cast<size_t>(mb)].empty()) apply_tokens(mb, tokens);
  admit(mb);
  for (const Sequence& s : groups_[static_cast<size_t>(mb)]) {
    sequence_append_rows(s, out.batch);
    out.seqs.push_back({static_cast<int32_t>(s.request), s.sampling,
                        {s.sampling.seed, s.id_hash, static_cast<int64_t>(s.tokens.size())}});
  }
  round_had_work_ |= !out.seqs.empty();
  out.last_round = mb == cfg_.micro_batches - 1 && !round_had_work_ && waiting_.empty();
}

}  // namespace ps
