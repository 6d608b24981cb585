// Element types. Storage may be f16/bf16 (checkpoints, GPU activations); the CPU computes in f32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace ps {

enum class DType : uint8_t { F32, F16, BF16 };

size_t dtype_size(DType t);
// Short name used in plans and on the command line: "f32", "f16", "bf16".
const char* dtype_name(DType t);
// Accepts our short names, safetensors' ("F32", "F16", "BF16") and torch's ("float32",
// "float16", "bfloat16"). nullopt for anything else.
std::optional<DType> dtype_parse(std::string_view s);
// The safetensors header spelling: "F32", "F16", "BF16".
const char* dtype_safetensors_name(DType t);
// The `torch_dtype` spelling of config.json: "float32", "float16", "bfloat16".
const char* dtype_torch_name(DType t);

// ---- scalar conversions (round to nearest even, NaN preserved) ---------------------------
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint16_t f32_to_bf16(float f);

// Convert n elements of type `from` at src to f32 at dst.
void convert_to_f32(DType from, const void* src, float* dst, size_t n);
// Convert n f32 elements at src to type `to` at dst.
void convert_from_f32(DType to, const float* src, void* dst, size_t n);
// Convert n elements of type `from` at src to type `to` at dst (through f32 in small chunks;
// round to nearest even). `src` may be unaligned: safetensors does not align tensors.
void convert_elements(DType from, const void* src, DType to, void* dst, size_t n);

}  // namespace ps
