// Where results go. The engine hands a ResultSink each token as it accepts it (for streaming)
// and each sequence's end (its output ids and finish reason). Results that travel between ranks
// or into the journal are JSON fields (results_format.h makes them), handed to a ResultPublisher:
// the pipeline's store publisher (runtime/pipeline/results.h) is one, and PublishingSink
// (results_format.h) turns a ResultSink's events into it. The one-process driver's collector
// (runtime/drivers/generate.cpp) is a ResultSink of its own.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ps {

struct TokenEvent {
  int32_t request = 0;   // the request's index in its source
  int32_t token = 0;
  int64_t position = 0;  // the token's position in its sequence (prompt_len + k for the k-th new one)
  // Log-probabilities of the best tokens at that position; empty until a request asks for them
  // (the sampler runs on the last stage, so they will travel back with the tokens).
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

struct SequenceEnd {
  int32_t request = 0;
  std::vector<int32_t> output_ids;  // the new tokens; a stop id that ended it is included
  std::string finish_reason;        // kFinishLength, kFinishStop or kFinishCancelled (sequence.h)
};

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // A token accepted for a running sequence, before its end (default: ignored).
  virtual void on_token(const TokenEvent&) {}
  // A sequence ended; every request the engine takes ends exactly once.
  virtual void on_finish(const SequenceEnd& end) = 0;
};

class ResultPublisher {
 public:
  virtual ~ResultPublisher() = default;
  // `fields` is the result's JSON object without its "id" (whoever writes the output knows the ids).
  virtual void publish(int32_t request, const std::string& fields) = 0;
};

}  // namespace ps
