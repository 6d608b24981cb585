#include "kernels/owned_tensor.h"
#include "runtime/drivers/generate.h"

#include <algorithm>
#include <chrono>
#include <deque>

namespace ps {

Sequence sequence_start(const Request& r, size_t index, const GenerateDefaults& d) {
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

int64_t generate_context_needed(const std::vector<Request>& reqs, const GenerateDefaults& d, int64_t max_positions) {
  int64_t need = 1;
  for (const auto& r : reqs) {
    const int64_t n = static_cast<int64_t>(r.prompt_ids.size()) + r.max_new_tokens.value_or(d.max_new_tokens);
    need = std::max(need, std::min(n, max_positions));
  }
  return need;
}

void sequence_append_rows(const Sequence& s, TokenBatch& batch) {
  const size_t from = s.prefilled ? s.tokens.size() - 1 : 0;
  for (size_t p = from; p < s.tokens.size(); ++p) {
    batch.tokens.push_back(s.tokens[p]);
    batch.slots.push_back(s.slot);
    batch.positions.push_back(static_cast<int32_t>(p));
  }
  batch.logit_rows.push_back(static_cast<int32_t>(batch.tokens.size() - 1));
}

std::optional<std::string> sequence_accept(Sequence& s, int32_t token, int64_t max_ctx) {
  s.prefilled = true;
  s.tokens.push_back(token);
  if (std::find(s.stop_ids.begin(), s.stop_ids.end(), token) != s.stop_ids.end()) return "stop";
  if (s.generated() >= s.max_new_tokens) return "length";
  // The next step would place a token at position tokens.size()-1 ... the cache holds max_ctx.
  if (static_cast<int64_t>(s.tokens.size()) >= max_ctx) return "length";
  return std::nullopt;
}

std::vector<GenerationResult> generate_run(StageModel& model, const OpContext& ctx, const std::vector<Request>& reqs,
                                           const GenerateDefaults& defaults, int slots, GenerateStats* stats) {
  const ModelSpec& spec = model.spec();
  const int64_t max_ctx = generate_context_needed(reqs, defaults, spec.max_positions);
  std::vector<GenerationResult> results(reqs.size());
  std::deque<size_t> waiting;
  for (size_t i = 0; i < reqs.size(); ++i) {
    results[i].id = reqs[i].id;
    waiting.push_back(i);
  }
  std::vector<int> free_slots;
  for (int s = slots - 1; s >= 0; --s) free_slots.push_back(s);
  std::vector<Sequence> active;
  GenerateStats local;
  OwnedTensor logits(model.device(), model.dtype());
  TokenBatch batch;
  std::vector<ops::SamplingParams> params;
  std::vector<ops::SampleKey> keys;
  std::vector<int32_t> sampled;

  while (!waiting.empty() || !active.empty()) {
    // Admit waiting requests into free slots (in input order).
    while (!waiting.empty() && !free_slots.empty()) {
      const size_t i = waiting.front();
      waiting.pop_front();
      Sequence s = sequence_start(reqs[i], i, defaults);
      if (s.max_new_tokens == 0 || static_cast<int64_t>(s.prompt_len) >= max_ctx) {
        results[i].finish_reason = "length";  // nothing to generate, or no room left in the context
        continue;
      }
      s.slot = free_slots.back();
      free_slots.pop_back();
      local.prompt_tokens += static_cast<int64_t>(s.prompt_len);
      active.push_back(std::move(s));
    }
    if (active.empty()) continue;

    batch = TokenBatch{};
    params.clear();
    keys.clear();
    bool has_prompt = false;
    for (const Sequence& s : active) {
      has_prompt |= !s.prefilled;
      sequence_append_rows(s, batch);
      params.push_back(s.sampling);
      keys.push_back({s.sampling.seed, s.id_hash, static_cast<int64_t>(s.tokens.size())});
    }
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(ctx, batch, TensorView{}, logits);
    sampled.assign(active.size(), 0);
    ops::sample(ctx, logits.view, params, keys, sampled);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    (has_prompt ? local.prefill_seconds : local.decode_seconds) += dt;
    if (!has_prompt) local.decode_tokens += static_cast<int64_t>(active.size());
    local.generated_tokens += static_cast<int64_t>(active.size());
    ++local.steps;

    // Apply tokens; finished sequences free their slots for the next waiting request.
    std::vector<Sequence> still;
    for (size_t k = 0; k < active.size(); ++k) {
      Sequence& s = active[k];
      if (auto reason = sequence_accept(s, sampled[k], max_ctx)) {
        GenerationResult& r = results[s.request];
        r.output_ids.assign(s.tokens.begin() + static_cast<std::ptrdiff_t>(s.prompt_len), s.tokens.end());
        r.finish_reason = *reason;
        free_slots.push_back(s.slot);
      } else {
        still.push_back(std::move(s));
      }
    }
    active = std::move(still);
  }
  if (stats) *stats = local;
  return results;
}

}  // namespace ps
