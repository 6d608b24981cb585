#include "runtime/weights/device_weights.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "kernels/common/backend.h"

namespace ps {

namespace {

// The two staging buffers and their events, released however the upload ends.
class Staging {
 public:
  Staging(const MemoryTable& m, size_t bytes) : m_(m), bytes_(bytes) {
    for (int i = 0; i < 2; ++i) {
      host_[i] = m_.host_alloc(bytes);
      event_[i] = m_.event_create();
    }
  }
  ~Staging() {
    for (int i = 0; i < 2; ++i) {
      if (busy_[i]) {
        try {
          m_.event_synchronize(event_[i]);  // the device may still read it
        } catch (...) {
        }
      }
      m_.host_free(host_[i]);
      m_.event_destroy(event_[i]);
    }
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  // Buffer i, once its previous upload has finished.
  void* acquire(int i) {
    if (busy_[i]) m_.event_synchronize(event_[i]);
    busy_[i] = false;
    return host_[i];
  }
  void upload(int i, void* device_dst, size_t bytes, void* stream) {
    m_.upload_async(device_dst, host_[i], bytes, stream);
    m_.event_record(event_[i], stream);
    busy_[i] = true;
  }
  size_t bytes() const { return bytes_; }

 private:
  const MemoryTable& m_;
  size_t bytes_;
  std::array<void*, 2> host_{};
  std::array<void*, 2> event_{};
  std::array<bool, 2> busy_{};
};

}  // namespace

StageWeights weights_upload(const Checkpoint& ckpt, const ModelSpec& spec, int first_layer, int last_layer,
                            Device device, DType dtype, void* stream, const UploadOptions& options) {
  const Backend& backend = backend_get(device);
  const MemoryTable& m = backend.memory;
  const std::map<std::string, TensorView> raw = stage_tensors_raw(ckpt, spec, first_layer, last_layer);
  const size_t out_size = dtype_size(dtype);
  // Whole elements of the widest dtype per staging buffer.
  const size_t chunk_elems = std::max<size_t>(1, options.staging_bytes / std::max(out_size, sizeof(float)));
  Staging staging(m, chunk_elems * out_size);

  StageWeights w;
  w.owned.reserve(raw.size());
  int next = 0;
  for (const auto& entry : raw) {
    const std::string& name = entry.first;  // not a structured binding: clang 14 cannot capture one
    const TensorView& src = entry.second;
    with_context(str("uploading tensor '", name, "' to ", device.str()), [&] {
      OwnedTensor& t = w.owned.emplace_back(device, dtype);
      t.reshape(src.shape);
      const size_t n = static_cast<size_t>(src.numel()), in_size = dtype_size(src.dtype);
      for (size_t i = 0; i < n; i += chunk_elems) {
        const size_t k = std::min(chunk_elems, n - i);
        void* host = staging.acquire(next);
        convert_elements(src.dtype, static_cast<const char*>(src.data) + i * in_size, dtype, host, k);
        staging.upload(next, static_cast<char*>(t.view.data) + i * out_size, k * out_size, stream);
        next = 1 - next;
      }
      w.tensors.emplace(name, t.view);
      w.bytes += t.view.nbytes();
    });
  }
  m.synchronize(stream);
  return w;
}

}  // namespace ps
