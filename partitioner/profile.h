// PROFILE.json: measured per-layer times, which `plan --profile` uses instead of the roofline.
// `pipeshard profile` writes it (the measuring command lives with the runtime); this is the
// format, its reader and writer, and the rules for applying it. One file holds the measurements
// of ONE device model at one thread count and dtype, for one or more workload shapes:
//
// {
//   "format": "pipeshard-profile",  "version": 1,
//   "model": "models/small",          (informational)
//   "model_type": "llama",
//   "device": "cpu",                  ("cpu" or "cuda:N": the kind of device measured)
//   "device_model": "cpu",            (must equal the cluster device's "model" to apply to it)
//   "threads": 1,                     (CPU threads used; GPU: 0)
//   "dtype": "f32",                   (the stage dtype measured)
//   "send": {"bandwidth_gb_s": 2.5, "latency_us": 40},   (optional: measured between two stages
//                                      on this device; replaces the node's same_device_link)
//   "measurements": [
//     {"mode": "forward", "micro_batch": 1, "prompt_len": 128,
//      "layers": [{"name": "embedding", "pass_s": 1.2e-5}, {"name": "block.0", "pass_s": 3.1e-3}, ...]},
//     {"mode": "generate", "micro_batch": 2, "prompt_len": 128, "max_new_tokens": 32,
//      "layers": [{"name": "embedding", "pass_s": 2.0e-5, "decode_s": 1.1e-6}, ...]}
//   ]
// }
//
// Times are seconds for ONE micro-batch of `micro_batch` sequences through one layer: "pass_s"
// for the forward pass over the prompt (= the prefill of a generation), "decode_s" (generate
// only) the mean over the measured decode steps. "layers" lists every layer of the model in
// order, named as in the model spec. The median of repeated runs is what to record.
//
// Applying it: a stage on a device of the same kind and model uses the measurement whose
// micro_batch and prompt_len equal the plan's (any mode for a forward plan -- a prefill is a
// forward pass; a generate measurement for a generate plan, preferring the same max_new_tokens);
// none -> an error listing what the file holds. A stage with another thread count than measured
// scales the times by measured / its threads (linear; re-profile for accuracy).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "partitioner/cluster.h"
#include "runtime/spec/model_spec.h"
#include "partitioner/workload.h"
#include "runtime/core/device.h"
#include "runtime/core/dtype.h"
#include "runtime/core/json_util.h"

namespace ps {

struct ProfileLayer {
  std::string name;
  double pass_s = 0.0;
  std::optional<double> decode_s;
};

struct ProfileMeasurement {
  Mode mode = Mode::Forward;
  int64_t micro_batch = 1;
  int64_t prompt_len = 1;
  int64_t max_new_tokens = 0;
  std::vector<ProfileLayer> layers;
};

struct Profile {
  std::string path;  // for messages
  std::string model, model_type;
  Device device;
  std::string device_model;
  int threads = 0;
  DType dtype = DType::F32;
  std::optional<LinkSpec> send;
  std::vector<ProfileMeasurement> measurements;
};

Profile profile_load(const std::string& path);
Profile profile_from_json(const Json& j, const std::string& path_for_messages);
std::string profile_dump(const Profile& p);  // the JSON text, one layer per line
void profile_write(const Profile& p, const std::string& path);  // atomically

// Does the profile describe this device (same kind, same model)?
bool profile_applies_to(const Profile& p, const DeviceSpec& d);

// The per-layer times for a workload at `dtype`, checked against the model's layer list.
struct ProfileTimes {
  std::vector<double> pass, decode;  // seconds per layer, one micro-batch
  int threads = 0;
  std::string note;  // e.g. measured at another max_new_tokens
};
ProfileTimes profile_select(const Profile& p, const ModelSpec& spec, const Workload& w, DType dtype);

}  // namespace ps
