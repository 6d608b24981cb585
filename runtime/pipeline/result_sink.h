// Where finished results go. The rank that produces a result (the last stage when scoring, the
// first stage when generating) hands it to a sink; the worker's sink forwards it to rank 0,
// which journals it and writes the final file (results_collector.h).
#pragma once

#include <cstdint>
#include <string>

namespace ps {

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // `fields` is the result's JSON object without its "id" (rank 0 knows the ids).
  virtual void publish(int32_t request, const std::string& fields) = 0;
};

}  // namespace ps
