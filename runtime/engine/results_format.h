// Results as they leave a run: each finished request's JSON fields (runtime/io/requests.h's
// result_fields, one layout per kind), made here for the two places results are produced --
// the engine's sink (a sequence ended: output ids, finish reason) and the stage with the model's
// head when scoring (next token and top log-probabilities from the logits, or an mlp's outputs).
#pragma once

#include <span>
#include <string>

#include "runtime/engine/batch.h"
#include "runtime/engine/result_sink.h"
#include "runtime/io/requests.h"

namespace ps {

std::string sequence_end_fields(const SequenceEnd& end);

// The greedy next token (the most probable, lowest id on ties) and the `top_logprobs` best
// tokens' log-probabilities of one row of logits (id left empty).
ScoreResult score_logits(const OpContext& ctx, std::span<const float> logits, int top_logprobs);

// A ResultSink that publishes each sequence's end as its fields (and ignores tokens): the
// pipeline's first stage hands its engine one over the store publisher.
class PublishingSink final : public ResultSink {
 public:
  explicit PublishingSink(ResultPublisher& out) : out_(out) {}
  void on_finish(const SequenceEnd& end) override;

 private:
  ResultPublisher& out_;
};

struct OutputFormat {
  bool mlp = false;      // outputs are an mlp's rows, else a language model's logits
  int top_logprobs = 5;  // log-probabilities per scored request
};

// The last stage, scoring: one result per sequence of a micro-batch, published as it is made.
class ScoreFormatter {
 public:
  ScoreFormatter(const OutputFormat& format, ResultPublisher& out) : format_(format), out_(out) {}
  // `out`: the stage's output as host f32, `width` per row: a language model's logit rows (one
  // per sequence), or an mlp's rows (the sequences' logit rows pick theirs).
  void publish(const OpContext& ctx, const MicroBatch& mb, const float* out, int64_t width);

 private:
  OutputFormat format_;
  ResultPublisher& out_;
};

}  // namespace ps
