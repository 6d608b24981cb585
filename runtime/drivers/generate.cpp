#include "runtime/drivers/generate.h"

#include <chrono>

#include "kernels/owned_tensor.h"

namespace ps {

namespace {

// The one-process sink: each sequence's end at its request's place (the source's index is the
// request's index in the input).
class ResultsCollector final : public ResultSink {
 public:
  explicit ResultsCollector(const std::vector<Request>& reqs) : results_(reqs.size()) {
    for (size_t i = 0; i < reqs.size(); ++i) results_[i].id = reqs[i].id;
  }
  void on_finish(const SequenceEnd& end) override {
    GenerationResult& r = results_.at(static_cast<size_t>(end.request));
    r.output_ids = end.output_ids;
    r.finish_reason = end.finish_reason;
  }
  std::vector<GenerationResult> take() { return std::move(results_); }

 private:
  std::vector<GenerationResult> results_;
};

}  // namespace

void generate_loop(StageModel& model, const OpContext& ctx, Engine& engine, GenerateStats* stats) {
  PS_CHECK(engine.config().groups == 1 && engine.config().mode == Mode::Generate);
  GenerateStats local;
  OwnedTensor logits(model.device(), model.dtype());
  MicroBatch step;
  std::vector<int32_t> sampled;
  for (;;) {
    const StepInfo info = engine.load(0, sampled, step);
    sampled.clear();
    if (step.last_round) break;
    if (step.rows() == 0) continue;  // idle: the engine has waited (bounded) for a request
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(ctx, step.batch, TensorView{}, logits);
    batch_sample(ctx, logits.view, step.seqs, sampled);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool has_prompt = info.prompt_rows > 0;
    (has_prompt ? local.prefill_seconds : local.decode_seconds) += dt;
    if (!has_prompt) local.decode_tokens += static_cast<int64_t>(step.seqs.size());
    local.prompt_tokens += info.prompt_rows;
    local.generated_tokens += static_cast<int64_t>(step.seqs.size());
    ++local.steps;
  }
  if (stats) *stats = local;
}

std::vector<GenerationResult> generate_run(StageModel& model, const OpContext& ctx, const std::vector<Request>& reqs,
                                           const GenerateDefaults& defaults, int slots, GenerateStats* stats) {
  EngineConfig cfg;
  cfg.mode = Mode::Generate;
  cfg.slots = slots;
  cfg.groups = 1;
  cfg.max_ctx = generate_context_needed(reqs, defaults, model.spec().max_positions);
  cfg.defaults = defaults;
  FileSource source(reqs);
  ResultsCollector results(reqs);
  Engine engine(cfg, source, results);
  generate_loop(model, ctx, engine, stats);
  return results.take();
}

}  // namespace ps
