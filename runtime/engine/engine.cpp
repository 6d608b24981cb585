#include "runtime/engine/engine.h"

#include <algorithm>

#include "runtime/core/error.h"

namespace ps {

Engine::Engine(const EngineConfig& cfg, RequestSource& source, ResultSink& sink)
    : cfg_(cfg), source_(source), sink_(sink) {
  PS_CHECK(cfg.slots >= 1 && cfg.groups >= 1 && cfg.prefill_chunk >= 0);
  groups_.resize(static_cast<size_t>(cfg.groups));
  for (int g = 0; g < cfg.groups; ++g)
    for (int s = group_begin(g + 1) - 1; s >= group_begin(g); --s) groups_[static_cast<size_t>(g)].free.push_back(s);
}

int Engine::group_begin(int g) const {
  // Earlier groups take the remainder.
  const int base = cfg_.slots / cfg_.groups, extra = cfg_.slots % cfg_.groups;
  return g * base + std::min(g, extra);
}

size_t Engine::awaited(int g) const {
  const auto& seqs = groups_[static_cast<size_t>(g)].seqs;
  return static_cast<size_t>(std::count_if(seqs.begin(), seqs.end(), [](const Sequence& s) { return s.awaits_token; }));
}

StepInfo Engine::load(int g, std::span<const int32_t> tokens, MicroBatch& out) {
  accept(g, tokens);
  return fill(g, out);
}

void Engine::take_cancellations() {
  for (const Cancellation& c : source_.take_cancelled()) {
    if (!c.started) {
      sink_.on_finish({c.request, {}, kFinishCancelled});
      continue;
    }
    // Only a running sequence can still be cancelled; one that has ended keeps its result.
    for (const Group& group : groups_)
      for (const Sequence& s : group.seqs)
        if (s.request == c.request) cancel_.insert(c.request);
  }
}

void Engine::finish(Sequence& s, const std::string& reason, Group& group) {
  const std::span<const int32_t> out = s.output();
  sink_.on_finish({s.request, std::vector<int32_t>(out.begin(), out.end()), reason});
  group.free.push_back(s.slot);
}

void Engine::accept(int g, std::span<const int32_t> tokens) {
  take_cancellations();
  Group& group = groups_[static_cast<size_t>(g)];
  const size_t want = awaited(g);
  PS_CHECK(tokens.size() == want, "group ", g, ": ", tokens.size(), " tokens for ", want, " sequences");
  std::vector<Sequence> still;
  size_t k = 0;
  for (Sequence& s : group.seqs) {
    const bool sampled = s.awaits_token;
    const int32_t token = sampled ? tokens[k++] : 0;
    if (cancel_.erase(s.request)) {  // its last token, sampled after the cancellation, is dropped
      finish(s, kFinishCancelled, group);
      continue;
    }
    if (!sampled) {  // a prompt chunk: the rest of the prompt goes into its next step
      still.push_back(std::move(s));
      continue;
    }
    const std::optional<std::string> reason = sequence_accept(s, token, cfg_.max_ctx);
    sink_.on_token({s.request, token, static_cast<int64_t>(s.tokens.size()) - 1, {}});
    if (reason) {
      finish(s, *reason, group);
    } else {
      still.push_back(std::move(s));
    }
  }
  group.seqs = std::move(still);
}

bool Engine::idle() const {
  if (source_.closed() || source_.pending()) return false;
  return std::all_of(groups_.begin(), groups_.end(), [](const Group& g) { return g.seqs.empty(); });
}

void Engine::admit(Group& group) {
  while (!group.free.empty()) {
    std::optional<SourcedRequest> q = source_.next();
    if (!q) break;
    Sequence s = sequence_start(q->request, q->index, cfg_.defaults);
    if (sequence_done_at_start(s, cfg_.max_ctx)) {  // nothing to generate, or no room left in the context
      sink_.on_finish({s.request, {}, kFinishLength});
      continue;
    }
    if (cfg_.stop_rule) s.stop_rule = cfg_.stop_rule(q->request);
    s.slot = group.free.back();
    group.free.pop_back();
    group.seqs.push_back(std::move(s));
  }
}

StepInfo Engine::fill(int g, MicroBatch& out) {
  out.clear();
  if (g == 0) round_had_work_ = false;
  if (idle()) source_.wait(cfg_.idle_wait);
  if (cfg_.mode == Mode::Forward) return fill_forward(g, out);
  Group& group = groups_[static_cast<size_t>(g)];
  admit(group);
  StepInfo info;
  for (Sequence& s : group.seqs) {
    info.prompt_rows += sequence_append_rows(s, cfg_.prefill_chunk, out.batch);
    if (s.awaits_token)
      out.seqs.push_back({s.request, s.sampling, {s.sampling.seed, s.id_hash, static_cast<int64_t>(s.tokens.size())}});
  }
  round_had_work_ |= !group.seqs.empty();
  out.last_round = g == cfg_.groups - 1 && !round_had_work_ && source_exhausted(source_);
  return info;
}

StepInfo Engine::fill_forward(int g, MicroBatch& out) {
  // This group's share of the round: its slot count of the next requests.
  StepInfo info;
  const int n = group_begin(g + 1) - group_begin(g);
  for (int k = 0; k < n; ++k) {
    std::optional<SourcedRequest> q = source_.next();
    if (!q) break;
    const auto& ids = q->request.prompt_ids;
    const int slot = group_begin(g) + k;
    for (size_t p = 0; p < ids.size(); ++p) {
      out.batch.tokens.push_back(ids[p]);
      out.batch.slots.push_back(slot);
      out.batch.positions.push_back(static_cast<int32_t>(p));
    }
    if (ids.empty()) {  // mlp: one row of numbers per request
      out.inputs.insert(out.inputs.end(), q->request.input.begin(), q->request.input.end());
      out.batch.slots.push_back(0);
      out.batch.positions.push_back(0);
    }
    out.batch.logit_rows.push_back(static_cast<int32_t>(out.batch.slots.size() - 1));
    out.seqs.push_back({q->index, {}, {}});
    info.prompt_rows += static_cast<int64_t>(ids.size());
  }
  out.last_round = g == cfg_.groups - 1 && source_exhausted(source_);
  return info;
}

}  // namespace ps
