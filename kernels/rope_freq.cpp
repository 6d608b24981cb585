// RoPE inverse frequencies as HF transformers computes them (modeling_rope_utils.py):
//   default  inv_freq[i] = 1 / theta^(2i / dim)
//   linear   inv_freq[i] / factor              (HF divides positions by factor; same angles)
//   llama3   wavelen = 2*pi / inv_freq; with low = old_ctx / low_freq_factor and
//            high = old_ctx / high_freq_factor:
//              wavelen > low   -> inv_freq / factor        (long wavelengths: interpolated)
//              wavelen < high  -> inv_freq                 (short wavelengths: unchanged)
//              otherwise       -> (1 - s) * inv_freq / factor + s * inv_freq,
//                                 s = (old_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
// HF evaluates these in f32 (torch.arange(0, dim, 2).float() / dim, then f32 pow and divide); we
// evaluate every formula in double and round once at the end, so an entry may differ from HF's
// by an f32 rounding (<= ~1 ulp), which is the more accurate value.
#include <cmath>
#include <numbers>

#include "kernels/ops.h"

namespace ps::ops {

namespace {

double scaled_llama3(double inv_freq, const RopeScaling& s) {
  const auto old_ctx = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_ctx / s.low_freq_factor;
  const double high_freq_wavelen = old_ctx / s.high_freq_factor;
  const double wavelen = 2.0 * std::numbers::pi / inv_freq;
  if (wavelen > low_freq_wavelen) return inv_freq / s.factor;
  if (wavelen < high_freq_wavelen) return inv_freq;
  const double smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return (1.0 - smooth) * inv_freq / s.factor + smooth * inv_freq;
}

}  // namespace

std::vector<float> rope_inv_freq(double theta, int64_t rotary_dim, const RopeScaling& scaling) {
  // The model spec validates config.json and names the field; these guard the arithmetic.
  if (!(theta > 0.0)) fail_input("rope_theta must be positive, got ", theta);
  if (rotary_dim <= 0 || rotary_dim % 2 != 0)
    fail_input("rotary dimension must be positive and even, got ", rotary_dim);
  if (scaling.type != RopeScaling::Type::None && !(scaling.factor > 0.0))
    fail_input("rope_scaling.factor must be positive, got ", scaling.factor);
  if (scaling.type == RopeScaling::Type::Llama3) {
    if (!(scaling.low_freq_factor > 0.0) || !(scaling.high_freq_factor > scaling.low_freq_factor))
      fail_input("rope_scaling: need 0 < low_freq_factor < high_freq_factor, got ", scaling.low_freq_factor,
                 " and ", scaling.high_freq_factor);
    if (scaling.original_max_position_embeddings <= 0)
      fail_input("rope_scaling.original_max_position_embeddings must be positive, got ",
                 scaling.original_max_position_embeddings);
  }

  std::vector<float> out(static_cast<size_t>(rotary_dim / 2));
  for (size_t i = 0; i < out.size(); ++i) {
    const double exponent = static_cast<double>(2 * i) / static_cast<double>(rotary_dim);
    double f = 1.0 / std::pow(theta, exponent);
    switch (scaling.type) {
      case RopeScaling::Type::None: break;
      case RopeScaling::Type::Linear: f /= scaling.factor; break;
      case RopeScaling::Type::Llama3: f = scaled_llama3(f, scaling); break;
    }
    out[i] = static_cast<float>(f);
  }
  return out;
}

}  // namespace ps::ops
