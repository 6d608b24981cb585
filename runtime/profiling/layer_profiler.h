// Measures each layer's time on this machine's CPU backend, for `plan --profile`: every layer is
// loaded as a one-layer stage and run on a micro-batch of the workload's shape, the activations
// flowing from layer to layer as in a real run. Times are medians of repeated runs.
#pragma once

#include <string>
#include <vector>

#include "partitioner/profile.h"

namespace ps {

struct ProfileRequest {
  std::string model_dir;
  Mode mode = Mode::Forward;
  std::vector<int64_t> micro_batches{1};  // one measurement per micro-batch size
  int64_t prompt_len = 128;
  int64_t max_new_tokens = 16;            // generate: decode steps measured
  int threads = 1;
  int repeat = 5;
  std::string device_model = "cpu";       // the cluster device's "model" this applies to
};

// `progress` (may be null) is told each measurement as it starts.
Profile profile_measure(const ProfileRequest& req, void (*progress)(const std::string&) = nullptr);

}  // namespace ps
