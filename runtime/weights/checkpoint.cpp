#include "runtime/weights/checkpoint.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/json_util.h"

namespace ps {
namespace {

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

bool path_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The names a spec tensor may have in a checkpoint, the exact one first: transformers writes
// GPT-2 with or without "transformer.", and Llama's base model without "model.".
std::vector<std::string> name_candidates(const std::string& name) {
  std::vector<std::string> out{name};
  for (const char* prefix : {"transformer.", "model."}) {
    const size_t n = std::strlen(prefix);
    if (name.compare(0, n, prefix) == 0) {
      out.push_back(name.substr(n));
    } else {
      out.push_back(prefix + name);
    }
  }
  return out;
}

}  // namespace

// ---- opening -------------------------------------------------------------------------------

Checkpoint::Shard Checkpoint::open_shard(const std::string& path) {
  Shard s;
  s.path = path;
  s.map = MappedFile::open(path);
  s.header = safetensors_parse(s.map.bytes(), s.map.size(), path);
  return s;
}

Checkpoint Checkpoint::open(const std::string& dir) {
  if (!is_dir(dir)) fail_input(dir, ": not a checkpoint directory (", path_exists(dir) ? "not a directory" : "does not exist", ")");
  Checkpoint c;
  c.dir_ = dir;
  const std::string single = dir + "/" + kSingleFile;
  const std::string index = dir + "/" + kIndexFile;
  if (path_exists(single)) {
    c.add_single(single);
  } else if (path_exists(index)) {
    c.add_index(index);
  } else {
    fail_input(dir, ": no ", kSingleFile, " or ", kIndexFile, " (a Hugging Face checkpoint directory holds one)");
  }
  return c;
}

void Checkpoint::add_single(const std::string& path) {
  shards_.push_back(open_shard(path));
  const auto& tensors = shards_[0].header.tensors;
  for (size_t i = 0; i < tensors.size(); ++i) by_name_[tensors[i].name] = Loc{0, i};
}

void Checkpoint::add_index(const std::string& index_path) {
  index_path_ = index_path;
  Json j;
  try {
    j = json_read_file(index_path, kIndexFileCap);
  } catch (const nlohmann::json::exception& e) {  // nlohmann throws out_of_range for "1e999"
    fail_input(index_path, ": not valid JSON: ", e.what());
  }
  if (!j.is_object()) fail_input(index_path, ": is a JSON ", json_type_name(j), ", expected an object with 'weight_map'");
  const auto wm = j.find("weight_map");
  if (wm == j.end()) fail_input(index_path, ": missing 'weight_map'");
  if (!wm->is_object())
    fail_input(index_path, ": weight_map is a JSON ", json_type_name(*wm), ", expected an object of tensor -> file name");

  std::map<std::string, size_t> shard_of_file;  // file name -> index into shards_
  std::vector<std::unordered_map<std::string, size_t>> entry_of_name;  // per shard
  for (const auto& [tensor, file] : wm->items()) {
    const std::string field = str(index_path, ": weight_map.", tensor);
    if (!file.is_string()) fail_input(field, " is a JSON ", json_type_name(file), ", expected a file name");
    const std::string& name = file.get_ref<const std::string&>();
    // Shards live beside the index; a path elsewhere is refused rather than followed.
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
      fail_input(field, ": '", name, "' is not a file name in the checkpoint directory");
    auto it = shard_of_file.find(name);
    if (it == shard_of_file.end()) {
      Shard s = with_context(field, [&] { return open_shard(dir_ + "/" + name); });
      std::unordered_map<std::string, size_t> names;
      for (size_t i = 0; i < s.header.tensors.size(); ++i) names.emplace(s.header.tensors[i].name, i);
      shards_.push_back(std::move(s));
      entry_of_name.push_back(std::move(names));
      it = shard_of_file.emplace(name, shards_.size() - 1).first;
    }
    const auto& names = entry_of_name[it->second];
    const auto e = names.find(tensor);
    if (e == names.end()) fail_input(field, ": tensor '", tensor, "' is not in ", shards_[it->second].path);
    by_name_[tensor] = Loc{it->second, e->second};
  }
}

// ---- lookup --------------------------------------------------------------------------------

const Checkpoint::Loc* Checkpoint::locate(const std::string& name) const {
  for (const std::string& n : name_candidates(name)) {
    const auto it = by_name_.find(n);
    if (it != by_name_.end()) return &it->second;
  }
  return nullptr;
}

const SafetensorsEntry* Checkpoint::find(const std::string& name) const {
  const Loc* l = locate(name);
  return l ? &shards_[l->shard].header.tensors[l->entry] : nullptr;
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& kv : by_name_) out.push_back(kv.first);
  std::sort(out.begin(), out.end());
  return out;
}

void Checkpoint::fail_missing(const std::string& name) const {
  const auto hint = did_you_mean(name, tensor_names());
  fail_input(dir_, ": tensor '", name, "' is not in the checkpoint (", sharded() ? index_path_ : shards_[0].path,
             "; also tried without/with the 'transformer.' and 'model.' prefixes)",
             hint ? " -- did you mean '" + *hint + "'?" : std::string());
}

TensorView Checkpoint::raw(const std::string& name) const {
  const Loc* l = locate(name);
  if (!l) fail_missing(name);
  const Shard& s = shards_[l->shard];
  const SafetensorsEntry& e = s.header.tensors[l->entry];
  if (!e.unsupported.empty()) fail_input(s.path, ": tensor '", e.name, "': cannot load a tensor of ", e.unsupported);
  TensorView v;
  // The mapping is PROT_READ; TensorView has no const flavour, so the constness is by contract.
  v.data = const_cast<uint8_t*>(s.map.data() + s.header.data_offset + e.begin);
  v.dtype = e.dtype;
  v.device = Device::cpu();
  v.shape = e.shape;
  return v;
}

std::string Checkpoint::file_of(const std::string& name) const {
  const Loc* l = locate(name);
  if (l) return shards_[l->shard].path;
  return sharded() ? index_path_ : shards_[0].path;
}

// ---- stage weights -------------------------------------------------------------------------

const TensorView& StageWeights::get(const std::string& name) const {
  const auto it = tensors.find(name);
  if (it == tensors.end()) fail_runtime("stage weights: tensor '", name, "' was not loaded (", tensors.size(), " tensors held)");
  return it->second;
}

namespace {

// f32 copy of a checkpoint tensor (convert_elements reads sources at any address: safetensors
// does not align tensors).
TensorView convert_owned(const TensorView& src, std::vector<OwnedTensor>& owned, ThreadPool* pool) {
  const size_t n = static_cast<size_t>(src.numel());
  OwnedTensor out(src.shape);
  float* dst = out.f32();
  const size_t esize = dtype_size(src.dtype);
  parallel_for(pool, static_cast<int64_t>(n), int64_t{1} << 16, [&](int64_t b, int64_t e) {
    convert_elements(src.dtype, static_cast<const char*>(src.data) + static_cast<size_t>(b) * esize, DType::F32,
                     dst + b, static_cast<size_t>(e - b));
  });
  const TensorView v = out.view;
  owned.push_back(std::move(out));  // moving keeps the address
  return v;
}

// The checkpoint's tensor, checked against the spec's shape.
TensorView validated_raw(const Checkpoint& ckpt, const ModelSpec& spec, const TensorSpec& ts) {
  const TensorView raw = ckpt.raw(ts.name);
  if (!(raw.shape == ts.shape))
    fail_input(ckpt.file_of(ts.name), ": tensor '", ckpt.find(ts.name)->name, "' has shape ", raw.shape.str(),
               ", expected ", ts.shape.str(), " from the model config",
               spec.config_path.empty() ? std::string() : " (" + spec.config_path + ")");
  return raw;
}

TensorView load_tensor(const Checkpoint& ckpt, const ModelSpec& spec, const TensorSpec& ts, std::vector<OwnedTensor>& owned,
                       ThreadPool* pool) {
  const TensorView raw = validated_raw(ckpt, spec, ts);
  if (raw.dtype == DType::F32 && reinterpret_cast<uintptr_t>(raw.data) % alignof(float) == 0) return raw;
  return convert_owned(raw, owned, pool);
}

// Calls fn(tensor spec) for each tensor of layers [first, last], each name once.
template <class Fn>
void for_each_stage_tensor(const Checkpoint& ckpt, const ModelSpec& spec, int first_layer, int last_layer, Fn fn) {
  if (first_layer < 0 || last_layer < first_layer || last_layer >= spec.num_layers())
    fail_input(ckpt.dir(), ": layers ", first_layer, "-", last_layer, " are not a range of the model's ",
               spec.num_layers(), " layers");
  std::set<std::string> seen;
  for (int l = first_layer; l <= last_layer; ++l) {
    const LayerSpec& layer = spec.layers[static_cast<size_t>(l)];
    for (const TensorSpec& ts : layer.tensors) {
      if (!seen.insert(ts.name).second) continue;  // tied: listed by two layers, loaded once
      with_context(str("layer ", l, " (", layer.name, ")"), [&] { fn(ts); });
    }
  }
}

}  // namespace

StageWeights weights_load(const Checkpoint& ckpt, const ModelSpec& spec, int first_layer, int last_layer,
                          ThreadPool* pool) {
  StageWeights w;
  for_each_stage_tensor(ckpt, spec, first_layer, last_layer, [&](const TensorSpec& ts) {
    const TensorView v = load_tensor(ckpt, spec, ts, w.owned, pool);
    w.tensors.emplace(ts.name, v);
    w.bytes += v.nbytes();
  });
  return w;
}

std::map<std::string, TensorView> stage_tensors_raw(const Checkpoint& ckpt, const ModelSpec& spec, int first_layer,
                                                    int last_layer) {
  std::map<std::string, TensorView> out;
  for_each_stage_tensor(ckpt, spec, first_layer, last_layer,
                        [&](const TensorSpec& ts) { out.emplace(ts.name, validated_raw(ckpt, spec, ts)); });
  return out;
}

}  // namespace ps
