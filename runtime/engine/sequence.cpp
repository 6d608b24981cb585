#include "runtime/engine/sequence.h"

#include <algorithm>

namespace ps {

Sequence sequence_start(const Request& r, int32_t index, const GenerateDefaults& d) {
  Sequence s;
  s.request = index;
  s.tokens = r.prompt_ids;
  s.prompt_len = r.prompt_ids.size();
  s.max_new_tokens = r.max_new_tokens.value_or(d.max_new_tokens);
  s.stop_ids = r.stop_ids.empty() ? d.stop_ids : r.stop_ids;
  s.sampling.temperature = r.temperature.value_or(d.temperature.value_or(0.0f));
  s.sampling.top_k = r.top_k.value_or(d.top_k.value_or(0));
  s.sampling.top_p = r.top_p.value_or(d.top_p.value_or(1.0f));
  s.sampling.seed = r.seed.value_or(d.seed);
  s.id_hash = ops::sample_request_hash(r.id);
  return s;
}

bool sequence_done_at_start(const Sequence& s, int64_t max_ctx) {
  return s.max_new_tokens == 0 || static_cast<int64_t>(s.prompt_len) >= max_ctx;
}

int64_t sequence_append_rows(Sequence& s, int64_t prefill_chunk, TokenBatch& batch) {
  size_t end = s.tokens.size();
  if (prefill_chunk > 0 && s.cached < s.prompt_len) end = std::min(end, s.cached + static_cast<size_t>(prefill_chunk));
  for (size_t p = s.cached; p < end; ++p) {
    batch.tokens.push_back(s.tokens[p]);
    batch.slots.push_back(s.slot);
    batch.positions.push_back(static_cast<int32_t>(p));
  }
  const auto prompt_rows = static_cast<int64_t>(std::min(end, s.prompt_len) - std::min(s.cached, s.prompt_len));
  s.cached = end;
  s.awaits_token = end == s.tokens.size();
  if (s.awaits_token) batch.logit_rows.push_back(static_cast<int32_t>(batch.tokens.size() - 1));
  return prompt_rows;
}

std::optional<std::string> sequence_accept(Sequence& s, int32_t token, int64_t max_ctx) {
  s.awaits_token = false;
  s.tokens.push_back(token);
  if (std::find(s.stop_ids.begin(), s.stop_ids.end(), token) != s.stop_ids.end()) return kFinishStop;
  if (s.stop_rule && s.stop_rule(s.output())) return kFinishStop;
  if (s.generated() >= s.max_new_tokens) return kFinishLength;
  // The next step would place a token at position tokens.size()-1 ... the cache holds max_ctx.
  if (static_cast<int64_t>(s.tokens.size()) >= max_ctx) return kFinishLength;
  return std::nullopt;
}

int64_t generate_context_needed(const std::vector<Request>& reqs, const GenerateDefaults& d, int64_t max_positions) {
  int64_t need = 1;
  for (const auto& r : reqs) {
    const int64_t n = static_cast<int64_t>(r.prompt_ids.size()) + r.max_new_tokens.value_or(d.max_new_tokens);
    need = std::max(need, std::min(n, max_positions));
  }
  return need;
}

int64_t forward_context_needed(const std::vector<Request>& reqs) {
  size_t n = 1;
  for (const auto& r : reqs) n = std::max(n, r.prompt_ids.size());
  return static_cast<int64_t>(n);
}

int64_t context_needed(Mode mode, const std::vector<Request>& reqs, const GenerateDefaults& d, const ModelSpec& spec) {
  if (spec.family == Family::Mlp) return 1;
  return mode == Mode::Forward ? forward_context_needed(reqs) : generate_context_needed(reqs, d, spec.max_positions);
}

}  // namespace ps
