#include "runtime/weights/safetensors.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>

#include "runtime/core/error.h"
#include "runtime/core/files.h"
#include "runtime/core/json_util.h"

namespace ps {
namespace {

// Every dtype the safetensors format defines with a whole number of bytes per element; `ours` is
// set for the ones pipeshard computes with. Sub-byte types (F4, F6_*) are not listed: unknown.
struct DtypeInfo {
  std::string_view name;
  uint64_t size;
  std::optional<DType> ours;
};
constexpr DtypeInfo kDtypes[] = {
    {"F32", 4, DType::F32},       {"F16", 2, DType::F16},       {"BF16", 2, DType::BF16},
    {"F64", 8, std::nullopt},     {"I64", 8, std::nullopt},     {"U64", 8, std::nullopt},
    {"I32", 4, std::nullopt},     {"U32", 4, std::nullopt},     {"I16", 2, std::nullopt},
    {"U16", 2, std::nullopt},     {"I8", 1, std::nullopt},      {"U8", 1, std::nullopt},
    {"BOOL", 1, std::nullopt},    {"F8_E4M3", 1, std::nullopt}, {"F8_E5M2", 1, std::nullopt},
    {"F8_E8M0", 1, std::nullopt}, {"C64", 8, std::nullopt},
};

const DtypeInfo* dtype_lookup(std::string_view s) {
  for (const DtypeInfo& d : kDtypes)
    if (d.name == s) return &d;
  return nullptr;
}

std::string dtype_list() {
  std::string out;
  for (const DtypeInfo& d : kDtypes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// a * b, or nullopt when it does not fit in 64 bits.
std::optional<uint64_t> mul_checked(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return std::nullopt;
  return a * b;
}

// A JSON value that must be a non-negative integer (a dim, an offset); `what` names it.
uint64_t require_count(const Json& j, const std::string& what) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < 0) fail_input(what, " is ", v, ", expected a non-negative integer");
    return static_cast<uint64_t>(v);
  }
  if (j.is_number_float()) fail_input(what, " is ", j.get<double>(), ", expected a non-negative integer");
  fail_input(what, " is a JSON ", json_type_name(j), ", expected a non-negative integer");
}

const Json& require_key(const Json& obj, const char* key, const std::string& where) {
  const auto it = obj.find(key);
  if (it == obj.end()) fail_input(where, ": missing '", key, "'");
  return *it;
}

SafetensorsEntry parse_entry(const std::string& name, const Json& v, uint64_t data_size, const std::string& file) {
  const std::string where = file + ": tensor '" + name + "'";
  if (name.empty()) fail_input(file, ": a tensor has an empty name");
  if (!v.is_object())
    fail_input(where, ": entry is a JSON ", json_type_name(v), ", expected an object with dtype, shape and data_offsets");
  SafetensorsEntry e;
  e.name = name;

  const Json& dt = require_key(v, "dtype", where);
  if (!dt.is_string()) fail_input(where, ": 'dtype' is a JSON ", json_type_name(dt), ", expected a string");
  const std::string& dts = dt.get_ref<const std::string&>();
  const DtypeInfo* info = dtype_lookup(dts);
  if (!info) fail_input(where, ": unknown dtype '", dts, "' (safetensors dtypes: ", dtype_list(), ")");

  const Json& sh = require_key(v, "shape", where);
  if (!sh.is_array()) fail_input(where, ": 'shape' is a JSON ", json_type_name(sh), ", expected an array of integers");
  std::vector<int64_t> dims;
  uint64_t numel = 1;
  for (size_t i = 0; i < sh.size(); ++i) {
    const std::string what = where + ": shape[" + std::to_string(i) + "]";
    const uint64_t d = require_count(sh[i], what);
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) fail_input(what, " is ", d, ", too large");
    const auto n = mul_checked(numel, d);
    if (!n || *n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail_input(what, " = ", d, " makes the element count of 'shape' overflow 64 bits");
    numel = *n;
    dims.push_back(static_cast<int64_t>(d));
  }

  const Json& off = require_key(v, "data_offsets", where);
  if (!off.is_array() || off.size() != 2)
    fail_input(where, ": 'data_offsets' must be an array [begin, end] of two integers, got a JSON ",
               json_type_name(off), off.is_array() ? str(" of ", off.size(), " elements") : std::string());
  e.begin = require_count(off[0], where + ": data_offsets[0]");
  e.end = require_count(off[1], where + ": data_offsets[1]");
  if (e.begin > e.end) fail_input(where, ": data_offsets [", e.begin, ", ", e.end, "] begin is past end");
  if (e.end > data_size)
    fail_input(where, ": data_offsets [", e.begin, ", ", e.end, "] end is past the data section (", data_size,
               " bytes)");

  const auto bytes = mul_checked(numel, info->size);
  if (!bytes || *bytes != e.nbytes())
    fail_input(where, ": data_offsets [", e.begin, ", ", e.end, "] hold ", e.nbytes(), " bytes, but dtype ", dts,
               " with shape ", dims_str(dims), " needs ",
               bytes ? str(*bytes, " bytes (", numel, " x ", info->size, ")")
                     : str(numel, " x ", info->size, " bytes, more than 64 bits can count"));

  if (dims.size() > static_cast<size_t>(kMaxDims)) {
    e.unsupported = str("rank ", dims.size(), " (pipeshard loads tensors of rank at most ", kMaxDims, ")");
  } else {
    e.shape = Shape::of(dims);
  }
  if (!info->ours) {
    e.unsupported = str("dtype ", dts, " (pipeshard loads F32, F16 and BF16)");
  } else {
    e.dtype = *info->ours;
  }
  return e;
}

std::vector<std::pair<std::string, std::string>> parse_metadata(const Json& m, const std::string& file) {
  if (!m.is_object()) fail_input(file, ": __metadata__ is a JSON ", json_type_name(m), ", expected an object of strings");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string()) fail_input(file, ": __metadata__.", k, " is a JSON ", json_type_name(v), ", expected a string");
    out.emplace_back(k, v.get<std::string>());
  }
  return out;
}

}  // namespace

SafetensorsHeader safetensors_parse(std::span<const uint8_t> file_bytes, uint64_t file_size, const std::string& file) {
  PS_CHECK(file_bytes.size() <= file_size, file, ": ", file_bytes.size(), " bytes given for a file of ", file_size);
  if (file_size < 8)
    fail_input(file, ": file is ", file_size, " bytes, too short for a safetensors file (8-byte header length first)");
  PS_CHECK(file_bytes.size() >= 8, file, ": the first 8 bytes are needed");
  const uint64_t n = read_u64_le(file_bytes.data());
  if (n > kSafetensorsMaxHeaderBytes)
    fail_input(file, ": header length ", n, " exceeds the limit of ", kSafetensorsMaxHeaderBytes,
               " bytes (not a safetensors file?)");
  if (n > file_size - 8)
    fail_input(file, ": header length ", n, " runs past the end of the file (", file_size, " bytes)");
  PS_CHECK(file_bytes.size() >= 8 + n, file, ": the first ", 8 + n, " bytes are needed");

  const std::string_view text(reinterpret_cast<const char*>(file_bytes.data()) + 8, static_cast<size_t>(n));
  Json j;
  try {
    j = json_parse(text, file + ": header");
  } catch (const nlohmann::json::exception& e) {  // e.g. out_of_range 406 for "1e999"
    fail_input(file, ": header: not valid JSON: ", e.what());
  }
  if (!j.is_object()) fail_input(file, ": header is a JSON ", json_type_name(j), ", expected an object");

  SafetensorsHeader h;
  h.data_offset = 8 + n;
  const uint64_t data_size = file_size - h.data_offset;
  for (const auto& [key, value] : j.items()) {
    if (key == "__metadata__") {
      h.metadata = parse_metadata(value, file);
    } else {
      h.tensors.push_back(parse_entry(key, value, data_size, file));
    }
  }

  // Tensors may be listed in any order; in layout order, each must start at or after the end of
  // the one before it, or two tensors would share bytes.
  std::sort(h.tensors.begin(), h.tensors.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < h.tensors.size(); ++i) {
    const SafetensorsEntry& a = h.tensors[i - 1];
    const SafetensorsEntry& b = h.tensors[i];
    if (b.begin < a.end)
      fail_input(file, ": tensors '", a.name, "' [", a.begin, ", ", a.end, ") and '", b.name, "' [", b.begin, ", ",
                 b.end, ") overlap");
  }
  return h;
}

void safetensors_write(const std::string& path, const std::vector<SafetensorsTensorOut>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata) {
  // ordered_json keeps the header in layout order, which makes files easy to read by eye.
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    h["__metadata__"] = std::move(m);
  }
  std::set<std::string> seen;
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (const SafetensorsTensorOut& t : tensors) {
    const std::string where = path + ": tensor '" + t.name + "'";
    if (t.name.empty()) fail_input(path, ": cannot write a tensor with an empty name");
    if (t.name == "__metadata__") fail_input(where, ": the name is reserved by the format");
    if (!seen.insert(t.name).second) fail_input(where, ": written twice");
    nlohmann::ordered_json dims = nlohmann::ordered_json::array();
    for (int i = 0; i < t.shape.rank; ++i) {
      if (t.shape[i] < 0) fail_input(where, ": negative dimension in shape ", t.shape.str());
      dims.push_back(t.shape[i]);
    }
    const uint64_t nbytes = static_cast<uint64_t>(t.shape.numel()) * dtype_size(t.dtype);
    PS_CHECK(t.data != nullptr || nbytes == 0, where, ": no data");
    h[t.name] = {{"dtype", dtype_safetensors_name(t.dtype)},
                 {"shape", std::move(dims)},
                 {"data_offsets", {offset, offset + nbytes}}};
    sizes.push_back(nbytes);
    offset += nbytes;
  }

  std::string text;
  try {
    text = h.dump();
  } catch (const nlohmann::json::exception& e) {  // a name or metadata string that is not UTF-8
    fail_input(path, ": cannot write the header: ", e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data section starts 8-aligned
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);

  AtomicFile f(path);
  f.write(std::string_view(len, 8));
  f.write(text);
  for (size_t i = 0; i < tensors.size(); ++i)
    if (sizes[i] > 0) f.write(std::string_view(static_cast<const char*>(tensors[i].data), static_cast<size_t>(sizes[i])));
  f.commit();
}

}  // namespace ps
