// weights_upload through its staging buffers, run on the CPU's memory table (the same code a GPU
// runs): every tensor of the stage arrives, converted to the stage dtype exactly as a per-element
// reference converts it, whatever the chunking; and convert_elements on unaligned input.
#include "runtime/weights/device_weights.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "support/test_support.h"

namespace ps {
namespace {

std::string make_model(const test::TempDir& dir, const std::string& dtype) {
  const std::string out = dir.file("m-" + dtype);
  const auto r = test::run_pipeshard({"make-model", "--family", "llama", "--preset", "tiny", "--dtype", dtype,
                                      "--tie-embeddings", "--seed", "9", "--out", out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

// Element i of a raw (possibly unaligned) tensor, as f32.
float element(const TensorView& raw, size_t i) {
  if (raw.dtype == DType::F32) {
    float f;
    std::memcpy(&f, static_cast<const char*>(raw.data) + i * 4, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, static_cast<const char*>(raw.data) + i * 2, 2);
  return raw.dtype == DType::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

// The reference bytes of one element converted to `to`.
std::vector<uint8_t> expected_bytes(const TensorView& raw, DType to) {
  const size_t n = static_cast<size_t>(raw.numel());
  std::vector<uint8_t> out(n * dtype_size(to));
  for (size_t i = 0; i < n; ++i) {
    const float f = element(raw, i);
    if (to == DType::F32) {
      std::memcpy(out.data() + i * 4, &f, 4);
    } else {
      const uint16_t h = to == DType::BF16 ? f32_to_bf16(f) : f32_to_f16(f);
      std::memcpy(out.data() + i * 2, &h, 2);
    }
  }
  return out;
}

struct Case {
  const char* checkpoint;
  DType to;
  size_t staging;
};

class UploadTest : public ::testing::TestWithParam<Case> {};

TEST_P(UploadTest, EveryTensorArrivesConvertedWhateverTheChunking) {
  test::TempDir dir;
  const std::string path = make_model(dir, GetParam().checkpoint);
  const ModelSpec spec = model_spec_load(path);
  const Checkpoint ckpt = Checkpoint::open(path);
  const int last = spec.num_layers() - 1;
  UploadOptions uo;
  uo.staging_bytes = GetParam().staging;
  const StageWeights w = weights_upload(ckpt, spec, 0, last, Device::cpu(), GetParam().to, nullptr, uo);
  const auto raw = stage_tensors_raw(ckpt, spec, 0, last);
  ASSERT_EQ(w.tensors.size(), raw.size());
  ASSERT_EQ(w.owned.size(), raw.size());  // the tied embedding once
  uint64_t bytes = 0;
  for (const auto& [name, r] : raw) {
    const TensorView& got = w.get(name);
    EXPECT_EQ(got.dtype, GetParam().to) << name;
    EXPECT_TRUE(got.shape == r.shape) << name;
    const std::vector<uint8_t> want = expected_bytes(r, GetParam().to);
    ASSERT_EQ(got.nbytes(), want.size()) << name;
    EXPECT_EQ(std::memcmp(got.data, want.data(), want.size()), 0) << name;
    bytes += want.size();
  }
  EXPECT_EQ(w.bytes, bytes);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, UploadTest,
                         ::testing::Values(Case{"f32", DType::F32, 1000}, Case{"f32", DType::BF16, 4096},
                                           Case{"bf16", DType::F32, 777}, Case{"bf16", DType::BF16, 64},
                                           Case{"f16", DType::BF16, 1 << 20}, Case{"f32", DType::F16, 2}));

TEST(ConvertElements, UnalignedSourceAndEveryPair) {
  const std::vector<float> values = {1.0f, -2.5f, 65504.0f, 3.1415926f, 1e-3f, -0.0f, 7.0e4f};
  for (DType from : {DType::F32, DType::F16, DType::BF16}) {
    // Pack the values in `from` at an odd address.
    std::vector<uint8_t> packed(1 + values.size() * dtype_size(from));
    for (size_t i = 0; i < values.size(); ++i) {
      uint8_t* p = packed.data() + 1 + i * dtype_size(from);
      if (from == DType::F32) {
        std::memcpy(p, &values[i], 4);
      } else {
        const uint16_t h = from == DType::BF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
        std::memcpy(p, &h, 2);
      }
    }
    const TensorView raw{packed.data() + 1, from, Device::cpu(), Shape{static_cast<int64_t>(values.size())}};
    for (DType to : {DType::F32, DType::F16, DType::BF16}) {
      std::vector<uint8_t> out(values.size() * dtype_size(to));
      convert_elements(from, raw.data, to, out.data(), values.size());
      EXPECT_EQ(out, expected_bytes(raw, to)) << dtype_name(from) << " -> " << dtype_name(to);
    }
  }
}

}  // namespace
}  // namespace ps
