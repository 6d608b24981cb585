// The cost model: what each layer costs for a workload (FLOPs, bytes moved, memory held), and
// how long that takes on a device. Time is a roofline -- max(FLOPs / peak FLOP/s, bytes / memory
// bandwidth) plus a fixed per-layer overhead -- unless a profile supplies measured per-layer times
// (profile.h). A send costs latency + bytes / bandwidth of the link between the two devices.
//
// Per micro-batch of mb sequences and prompt length L:
//   forward / prefill pass: mb * L tokens through every layer; the head computes logits at the
//     last position of each sequence only (that is all scoring and sampling need);
//   decode step at context c (generate): one token per sequence; attention reads c positions of
//     KV cache, so FLOPs and bytes are base + c * per_ctx; round k of T-1 has c = L + k.
// The embedding and the head are costed like any layer: a 128k-vocabulary head reads a GiB-sized
// matrix per step and is often the heaviest layer.
//
// Memory of a stage = weights + KV cache (generate: every sequence of the replica's batch, for
// L + T positions) + the largest transient of its layers (scratch of one micro-batch plus
// double-buffered input and output activations) + the device's reserve. CPU stages keep
// activations and KV cache in f32 (the CPU backend computes in f32).
#pragma once

#include <cstdint>
#include <vector>

#include "partitioner/cluster.h"
#include "runtime/spec/model_spec.h"
#include "partitioner/schedule.h"
#include "partitioner/workload.h"

namespace ps {

struct Work {
  double flops = 0.0;
  double bytes = 0.0;  // moved to or from device memory
};

struct LayerCost {
  int64_t params = 0;
  int64_t weight_bytes = 0;   // resident parameters at the stage dtype
  int64_t kv_bytes = 0;       // resident KV cache (generate)
  int64_t peak_bytes = 0;     // transient while one micro-batch runs through it (with I/O buffers)
  int64_t out_bytes = 0;      // activation after this layer, one micro-batch, forward/prefill pass
  int64_t out_decode_bytes = 0;  // ... one decode step
  Work pass;                  // one micro-batch: forward pass or prefill
  Work decode_base;           // one decode step of one micro-batch at context c:
  Work decode_per_ctx;        //   decode_base + c * decode_per_ctx
};

// Per-layer costs of one model under one workload, weights in `dtype`, activations in `act`.
struct CostModel {
  Workload workload;
  DType dtype = DType::F32;
  DType act = DType::F32;
  std::vector<LayerCost> layers;
  int64_t token_bytes = 0;  // a SEND_T message: one token and one finished flag per sequence
  Work sample;              // Sample on the last stage: softmax and draw over the vocabulary
};
CostModel cost_model_build(const ModelSpec& spec, const Workload& w, DType dtype, DType act);
// Activations and KV cache: the stage dtype on a GPU, f32 on a CPU.
DType activation_dtype(const DeviceSpec& device, DType dtype);

// What one stage gets of its device: `share` < 1 when stages share it (CPU cores, one GPU).
struct DeviceRate {
  double flops = 0.0;      // FLOP/s
  double bandwidth = 0.0;  // bytes/s
  double overhead = 0.0;   // seconds per layer per pass
};
DeviceRate device_rate(const DeviceSpec& device, DType dtype, double share);
double roofline_time(const Work& w, const DeviceRate& r);  // max(flops/F, bytes/B) + overhead

// Sum over integer c in [c0, c1] of max(u + v c, w + x c), in closed form (the decode steps of a
// generation: compute-bound and memory-bound lines cross at most once).
double sum_max_linear(double u, double v, double w, double x, int64_t c0, int64_t c1);

// Times one stage's layers: the roofline on its device, or measured times when a profile applies.
struct LayerClock {
  DeviceRate rate;
  const std::vector<double>* measured_pass = nullptr;    // seconds per layer per micro-batch
  const std::vector<double>* measured_decode = nullptr;  // seconds per layer per decode step
  double measured_scale = 1.0;  // measured threads / this stage's threads

  // One micro-batch through `layer` in one round (ctx: the decode round's context length).
  double round_time(const CostModel& m, int layer, RoundKind kind, int64_t ctx) const;
  // One micro-batch through `layer` over the whole workload: the pass, plus for generate every
  // decode step (T - 1 of them). This is what the partitioner balances.
  double workload_time(const CostModel& m, int layer) const;
};

// Time to send the activation after `layer` (one micro-batch) over `link`, for the round or the
// whole workload; and the tokens of one micro-batch (last stage -> first, generate).
double send_round_time(const CostModel& m, int layer, RoundKind kind, const LinkSpec& link);
double send_workload_time(const CostModel& m, int layer, const LinkSpec& link);
double tokens_workload_time(const CostModel& m, const LinkSpec& link);

}  // namespace ps
