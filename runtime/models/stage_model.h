// A contiguous range [first, last] of a model's ordered layers, loaded and ready to run: a
// pipeline stage, or the whole model in one process (first = 0, last = all). The same object
// serves prefill, decode and ragged mixes: a batch is a list of token rows, each with the
// sequence slot it belongs to and its position, so attention and the KV cache work per slot.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kernels/common/op_context.h"
#include "kernels/owned_tensor.h"
#include "runtime/spec/model_spec.h"
#include "runtime/core/tensor.h"
#include "runtime/weights/checkpoint.h"

namespace ps {

// One forward step's rows. For `mlp` models only `logit_rows` matters (all rows are samples).
struct TokenBatch {
  std::vector<int32_t> tokens;      // token id per row (read by the embedding layer)
  std::vector<int32_t> slots;       // KV-cache slot per row
  std::vector<int32_t> positions;   // position in its sequence per row
  std::vector<int32_t> logit_rows;  // rows the head turns into logits, in output order

  int64_t rows() const { return static_cast<int64_t>(slots.size()); }
};

// One weight as a layer's forward reads it, bound once when the stage is built (the forward
// never looks a tensor up by name). A struct of its own rather than a bare view, so that
// low-precision weights can carry their scales beside the view.
struct Weight {
  TensorView view;  // empty for an optional tensor the config leaves out (a bias)
};

struct StageOptions {
  int slots = 1;        // sequences that can be in flight at once (KV-cache slots)
  int64_t max_ctx = 0;  // positions per slot; 0 = the model's max_positions
  // Where the stage runs and in which dtype its weights, activations and KV cache are held. The
  // CPU computes in f32 only; a GPU in f32, f16 or bf16. `stream` orders the weight upload.
  Device device = Device::cpu();
  DType dtype = DType::F32;
  void* stream = nullptr;
};

class StageModel {
 public:
  virtual ~StageModel() = default;

  // Runs the stage's layers. `in` is the previous stage's output ([rows, hidden]; for `mlp`
  // [rows, width]); a stage holding the embedding reads batch.tokens instead. `out` receives
  // [rows, hidden] or, when the stage holds the head, logits [logit_rows, vocab]
  // (`mlp`: [rows, output width] from the last stage).
  virtual void forward(const OpContext& ctx, const TokenBatch& batch, const TensorView& in, OwnedTensor& out) = 0;

  // Sizes every scratch activation for micro-batches of up to `max_rows` rows at positions below
  // `max_ctx`, and commits the memory, so a long run never allocates again after this. One cheap
  // forward of a single row at the last position first records each scratch tensor's width and
  // sizes the op workspace (attention's grows with the position); it writes that one cache entry,
  // which a real sequence overwrites before reading it.
  void reserve(const OpContext& ctx, int64_t max_rows, int64_t max_ctx);
  // Bytes held by the scratch activations now (what reserve() committed, or their high-water mark).
  uint64_t scratch_bytes() const;

  int first_layer() const { return first_; }
  int last_layer() const { return last_; }
  bool has_embedding() const;
  bool has_head() const;
  const ModelSpec& spec() const { return *spec_; }
  uint64_t weight_bytes() const { return weights_.bytes; }
  // Width of the activation this stage sends to the next one (hidden, or the mlp layer width).
  int64_t output_width() const;
  // Where its tensors live and their dtype (outputs passed to forward must match).
  const Device& device() const { return device_; }
  DType dtype() const { return dtype_; }

 protected:
  StageModel(const ModelSpec& spec, StageWeights weights, int first, int last, const StageOptions& options)
      : spec_(&spec),
        weights_(std::move(weights)),
        first_(first),
        last_(last),
        device_(options.device),
        dtype_(options.dtype) {}
  // The loaded tensor `name` (the spec's tensor name), for a family's constructor to bind into its
  // layer structs; a runtime error naming the tensor if the stage did not load it.
  Weight bind(const std::string& name) const { return Weight{weights_.get(name)}; }
  // bind(name) when the config has the tensor (`present`), else an empty weight.
  Weight bind_if(bool present, const std::string& name) const { return present ? bind(name) : Weight{}; }
  // Scratch tensor `t` shaped [rows, cols] on the stage's device in its dtype; remembers the
  // widest cols asked of each tensor for reserve(). Each scratch tensor must stay the same member
  // (never swapped with another).
  TensorView scratch(OwnedTensor& t, int64_t rows, int64_t cols);

  const ModelSpec* spec_;
  StageWeights weights_;
  int first_, last_;
  Device device_;
  DType dtype_;

 private:
  std::vector<std::pair<OwnedTensor*, int64_t>> scratch_widths_;
};

// Width of the activation after layer `layer` (-1: the model's input), as sent between stages:
// hidden for transformer layers before the head, vocab after it; the running width for `mlp`.
int64_t activation_width(const ModelSpec& spec, int layer);

// Loads layers [first, last] of the checkpoint and builds the family's stage. The spec and the
// checkpoint must outlive the stage (weights may be views into the checkpoint's mapping).
std::unique_ptr<StageModel> stage_model_load(const ModelSpec& spec, const Checkpoint& ckpt, int first, int last,
                                             const StageOptions& options);

}  // namespace ps
