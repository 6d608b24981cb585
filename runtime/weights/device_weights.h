// A stage's weights on a GPU: the tensors its layers list, validated as weights_load validates
// them, copied from the memory-mapped checkpoint to the device through two pinned staging
// buffers -- one is filled (and converted to the stage dtype on the host, when the checkpoint's
// differs) while the other uploads asynchronously. The host reads each page of the mapping once
// and never holds more than the two staging buffers. Runs on any backend with a MemoryTable: on
// the CPU the same code "uploads" into host memory, which is how it is tested without a GPU.
#pragma once

#include <cstddef>

#include "runtime/weights/checkpoint.h"

namespace ps {

struct UploadOptions {
  size_t staging_bytes = size_t{32} << 20;  // each of the two staging buffers
};

// Weights of layers [first_layer, last_layer] on `device` in `dtype` (f32, f16 or bf16), in
// StageWeights::owned; uploads are ordered on `stream` and complete when this returns.
StageWeights weights_upload(const Checkpoint& ckpt, const ModelSpec& spec, int first_layer, int last_layer,
                            Device device, DType dtype, void* stream, const UploadOptions& options = {});

}  // namespace ps
