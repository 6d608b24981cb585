// A Hugging Face checkpoint directory, memory-mapped, and the loader that gives a pipeline stage
// the f32 weights of its own layers and nothing else.
//
// Lifetime: views returned by Checkpoint::raw and held by StageWeights point into the mappings
// that the Checkpoint owns. Keep the Checkpoint alive (moving it is fine: the mappings move with
// it) for as long as any of those views is used. The mappings are read-only: never write through
// a view of a checkpoint tensor.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/spec/model_spec.h"
#include "kernels/owned_tensor.h"
#include "runtime/core/tensor.h"
#include "runtime/core/thread_pool.h"
#include "runtime/weights/mapped_file.h"
#include "runtime/weights/safetensors.h"

namespace ps {

// model.safetensors, or shards listed by model.safetensors.index.json ("weight_map": tensor ->
// file name). When both exist the single file wins, as in transformers. Every file is mapped and
// its header parsed at open; no tensor data is read until a tensor is used.
class Checkpoint {
 public:
  // InvalidInput naming the directory, the index file and its field, or the safetensors file.
  // Shard file names must be plain names inside `dir` (no '/'), and every tensor of the
  // weight_map must be in the file it names.
  static Checkpoint open(const std::string& dir);

  // Finds a tensor by its spec name, also trying it with a leading "transformer." or "model."
  // removed, or added (checkpoints differ); the exact name wins. nullptr if absent.
  const SafetensorsEntry* find(const std::string& name) const;
  // View over the mapping in the checkpoint's dtype (no copy, read-only memory). The address has
  // the alignment the file gives it, possibly none (safetensors does not promise any): check it
  // before typed access, or use weights_load. InvalidInput naming the dir and tensor if missing,
  // or the file and tensor if its dtype/rank is unsupported.
  TensorView raw(const std::string& name) const;
  // The safetensors file holding `name` (for messages); the index file (sharded) or the single
  // file's path when it is absent.
  std::string file_of(const std::string& name) const;
  const std::string& dir() const { return dir_; }

  // Every tensor name the checkpoint holds (as the checkpoint spells it), sorted.
  std::vector<std::string> tensor_names() const;
  bool sharded() const { return !index_path_.empty(); }

 private:
  struct Shard {
    std::string path;
    MappedFile map;
    SafetensorsHeader header;
  };
  struct Loc {
    size_t shard = 0, entry = 0;
  };
  static Shard open_shard(const std::string& path);
  void add_single(const std::string& path);
  void add_index(const std::string& index_path);
  const Loc* locate(const std::string& name) const;
  [[noreturn]] void fail_missing(const std::string& name) const;

  std::string dir_;
  std::string index_path_;  // empty for a single-file checkpoint
  std::vector<Shard> shards_;
  std::unordered_map<std::string, Loc> by_name_;
};

// The f32 weights of layers [first_layer, last_layer] (inclusive indices into spec.layers).
struct StageWeights {
  std::map<std::string, TensorView> tensors;  // keyed by the spec's tensor name
  std::vector<OwnedTensor> owned;             // converted (weights_load) or uploaded (weights_upload) tensors
  uint64_t bytes = 0;                         // bytes of the tensors loaded, as held (views + owned)

  // Runtime error naming the tensor if absent (asking for a tensor the stage did not load is a
  // programming error).
  const TensorView& get(const std::string& name) const;
};

// Exactly the tensors those layers list, validated: present, loadable, and of the spec's shape
// (the message names the file, the tensor, the expected and the actual shape). F32 tensors at a
// 4-byte aligned address are zero-copy views into the mapping, so only their pages are ever
// touched; F16/BF16 (or misaligned F32) are converted into owned buffers. A tensor listed by two
// layers (a tied embedding in the embedding and the head) is loaded once. Conversions run on
// `pool` when one is given.
StageWeights weights_load(const Checkpoint& ckpt, const ModelSpec& spec, int first_layer, int last_layer,
                          ThreadPool* pool = nullptr);

// The tensors layers [first_layer, last_layer] list, each once (a tied tensor is listed by two
// layers), as views into the mapping in the checkpoint's dtype, validated as weights_load
// validates them. Keyed by the spec's tensor name.
std::map<std::string, TensorView> stage_tensors_raw(const Checkpoint& ckpt, const ModelSpec& spec, int first_layer,
                                                    int last_layer);

}  // namespace ps
