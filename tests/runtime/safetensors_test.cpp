// safetensors reader/writer: round trips, and one test per way a hostile header can be wrong.
// Hostile files are built byte by byte (8-byte length + JSON + data), so each case is exactly the
// broken file it names.
#include "runtime/weights/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/weights/mapped_file.h"
#include "support/test_support.h"

namespace ps {
namespace {

const std::string kFile = "hostile.safetensors";

std::string u64_le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A file: 8-byte header length, the header text, `data_bytes` zero bytes of data.
std::string st_bytes(const std::string& header, size_t data_bytes) {
  return u64_le(header.size()) + header + std::string(data_bytes, '\0');
}

SafetensorsHeader parse(const std::string& bytes, const std::string& file = kFile) {
  return safetensors_parse({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, bytes.size(), file);
}

// Parses `bytes`, which must fail with InvalidInput; the message must contain every `needle`.
void expect_invalid(const std::string& bytes, std::initializer_list<std::string> needles) {
  try {
    parse(bytes);
    ADD_FAILURE() << "parsed without error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << e.what();
    const std::string msg = e.what();
    EXPECT_NE(msg.find(kFile), std::string::npos) << msg;
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
  }
}

// A valid one-tensor entry, used as the neighbour of a broken one.
const std::string kGoodEntry = R"("good": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";

// ---- round trips ---------------------------------------------------------------------------

TEST(Safetensors, RoundTripF32F16BF16) {
  test::TempDir dir;
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
  const std::vector<uint16_t> b = {0x3C00, 0xC000, 0x3555};                  // f16
  const std::vector<uint16_t> c = {0x3F80, 0xC040, 0x3EAB, 0x0001, 0xFF80};  // bf16
  const std::string path = dir.file("rt.safetensors");
  safetensors_write(path, {{"a", DType::F32, Shape{2, 3}, a.data()},
                           {"b", DType::F16, Shape{3}, b.data()},
                           {"c.weight", DType::BF16, Shape{5, 1}, c.data()}});

  const MappedFile m = MappedFile::open(path);
  const SafetensorsHeader h = safetensors_parse(m.bytes(), m.size(), path);
  EXPECT_EQ(h.data_offset % 8, 0u);
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(m.size(), h.data_offset + 24 + 6 + 10);
  // Laid out in the given order, back to back.
  const SafetensorsEntry& ea = h.tensors[0];
  const SafetensorsEntry& eb = h.tensors[1];
  const SafetensorsEntry& ec = h.tensors[2];
  EXPECT_EQ(ea.name, "a");
  EXPECT_EQ(ea.dtype, DType::F32);
  EXPECT_EQ(ea.shape, (Shape{2, 3}));
  EXPECT_EQ(ea.begin, 0u);
  EXPECT_EQ(ea.end, 24u);
  EXPECT_EQ(eb.name, "b");
  EXPECT_EQ(eb.dtype, DType::F16);
  EXPECT_EQ(eb.shape, (Shape{3}));
  EXPECT_EQ(eb.begin, 24u);
  EXPECT_EQ(eb.end, 30u);
  EXPECT_EQ(ec.name, "c.weight");
  EXPECT_EQ(ec.dtype, DType::BF16);
  EXPECT_EQ(ec.shape, (Shape{5, 1}));
  EXPECT_EQ(ec.begin, 30u);
  EXPECT_EQ(ec.end, 40u);
  for (const SafetensorsEntry& e : h.tensors) EXPECT_TRUE(e.unsupported.empty()) << e.name;
  const uint8_t* data = m.data() + h.data_offset;
  EXPECT_EQ(std::memcmp(data + ea.begin, a.data(), 24), 0);
  EXPECT_EQ(std::memcmp(data + eb.begin, b.data(), 6), 0);
  EXPECT_EQ(std::memcmp(data + ec.begin, c.data(), 10), 0);
  EXPECT_TRUE(h.metadata.empty());
}

TEST(Safetensors, MetadataRoundTrip) {
  test::TempDir dir;
  const std::string path = dir.file("meta.safetensors");
  const float x = 4.0f;
  safetensors_write(path, {{"x", DType::F32, Shape{1}, &x}}, {{"format", "pt"}, {"author", "pipeshard"}});
  const MappedFile m = MappedFile::open(path);
  const SafetensorsHeader h = safetensors_parse(m.bytes(), m.size(), path);
  const std::vector<std::pair<std::string, std::string>> want = {{"author", "pipeshard"}, {"format", "pt"}};
  EXPECT_EQ(h.metadata, want);
  ASSERT_EQ(h.tensors.size(), 1u);
  EXPECT_EQ(h.tensors[0].name, "x");
}

TEST(Safetensors, TensorsListedInAnyOrderAreSortedByOffset) {
  const std::string header = R"({"z": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                             R"( "a": {"dtype": "F16", "shape": [2], "data_offsets": [8, 12]},)"
                             R"( "m": {"dtype": "BF16", "shape": [2], "data_offsets": [4, 8]}})";
  const SafetensorsHeader h = parse(st_bytes(header, 12));
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.tensors[0].name, "z");
  EXPECT_EQ(h.tensors[1].name, "m");
  EXPECT_EQ(h.tensors[2].name, "a");
  EXPECT_EQ(h.data_offset, 8 + header.size());
}

TEST(Safetensors, ScalarsEmptyTensorsAndHolesAreValid) {
  const std::string header = R"({"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},)"
                             R"( "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [4, 4]},)"
                             R"( "t": {"dtype": "F16", "shape": [1], "data_offsets": [8, 10]}})";
  const SafetensorsHeader h = parse(st_bytes(header, 10));
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.tensors[0].shape.rank, 0);
  EXPECT_EQ(h.tensors[0].shape.numel(), 1);
  EXPECT_EQ(h.tensors[1].shape, (Shape{0, 3}));
  EXPECT_EQ(h.tensors[1].nbytes(), 0u);
}

TEST(Safetensors, OtherDtypesAndHighRanksAreListedAsUnsupported) {
  const std::string header = R"({"pos": {"dtype": "I64", "shape": [3], "data_offsets": [0, 24]},)"
                             R"( "mask": {"dtype": "BOOL", "shape": [2, 2], "data_offsets": [24, 28]},)"
                             R"( "r5": {"dtype": "F32", "shape": [1, 1, 1, 1, 2], "data_offsets": [28, 36]}})";
  const SafetensorsHeader h = parse(st_bytes(header, 36));
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.tensors[0].name, "pos");
  EXPECT_NE(h.tensors[0].unsupported.find("I64"), std::string::npos) << h.tensors[0].unsupported;
  EXPECT_NE(h.tensors[1].unsupported.find("BOOL"), std::string::npos) << h.tensors[1].unsupported;
  EXPECT_NE(h.tensors[2].unsupported.find("rank 5"), std::string::npos) << h.tensors[2].unsupported;
}

TEST(Safetensors, UnsupportedDtypesAreStillValidated) {
  // I64 is 8 bytes per element: 3 elements in 12 bytes is a lie.
  expect_invalid(st_bytes(R"({"pos": {"dtype": "I64", "shape": [3], "data_offsets": [0, 12]}})", 12),
                 {"'pos'", "I64", "needs 24 bytes"});
}

TEST(Safetensors, WriteRejectsDuplicateAndReservedNames) {
  test::TempDir dir;
  const float x = 1.0f;
  const std::string path = dir.file("bad.safetensors");
  for (const auto& tensors : std::vector<std::vector<SafetensorsTensorOut>>{
           {{"x", DType::F32, Shape{1}, &x}, {"x", DType::F32, Shape{1}, &x}},
           {{"__metadata__", DType::F32, Shape{1}, &x}},
           {{"", DType::F32, Shape{1}, &x}}}) {
    try {
      safetensors_write(path, tensors);
      ADD_FAILURE() << "wrote without error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
    EXPECT_FALSE(test::file_exists(path)) << "nothing half-written";
  }
}

// Every prefix of a valid file is either a valid file or InvalidInput -- never a crash or another
// error kind (what a fuzzer would check first).
TEST(Safetensors, EveryTruncationIsRejectedCleanly) {
  test::TempDir dir;
  const std::vector<float> a = {1, 2, 3, 4};
  const std::string path = dir.file("t.safetensors");
  safetensors_write(path, {{"a", DType::F32, Shape{4}, a.data()}}, {{"k", "v"}});
  const std::string full = test::read_text(path);
  for (size_t n = 0; n < full.size(); ++n) {
    const std::string cut = full.substr(0, n);
    try {
      parse(cut);
      ADD_FAILURE() << "a file cut at " << n << " of " << full.size() << " bytes parsed";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << n << ": " << e.what();
    }
  }
  EXPECT_EQ(parse(full).tensors.size(), 1u);
}

// ---- hostile headers: one test per case ----------------------------------------------------

TEST(SafetensorsHostile, EmptyFile) { expect_invalid("", {"0 bytes", "too short"}); }

TEST(SafetensorsHostile, FewerThanEightBytes) { expect_invalid(std::string("\x05\0\0\0\0", 5), {"5 bytes", "too short"}); }

TEST(SafetensorsHostile, HeaderLengthPastEndOfFile) {
  expect_invalid(u64_le(1000) + "{}", {"header length 1000", "past the end of the file"});
}

TEST(SafetensorsHostile, HeaderLengthAbsurd) {
  expect_invalid(u64_le(uint64_t{1} << 62) + "{}", {"header length 4611686018427387904", "exceeds the limit"});
}

TEST(SafetensorsHostile, HeaderNotJson) { expect_invalid(st_bytes("{\"a\": [1, 2", 0), {"header", "not valid JSON"}); }

TEST(SafetensorsHostile, HeaderNumberOutOfRange) {
  // nlohmann reports an overflowing number as out_of_range, not parse_error: still InvalidInput.
  expect_invalid(st_bytes(R"({"a": 1e999})", 0), {"header", "not valid JSON"});
}

TEST(SafetensorsHostile, HeaderNotObject) { expect_invalid(st_bytes("[1, 2]", 0), {"header is a JSON array", "object"}); }

TEST(SafetensorsHostile, EntryNotObject) {
  expect_invalid(st_bytes(R"({"w": [1, 2]})", 0), {"tensor 'w'", "entry is a JSON array"});
}

TEST(SafetensorsHostile, EmptyTensorName) {
  expect_invalid(st_bytes(R"({"": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 4), {"empty name"});
}

TEST(SafetensorsHostile, MissingDtype) {
  expect_invalid(st_bytes(R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", 4), {"tensor 'w'", "missing 'dtype'"});
}

TEST(SafetensorsHostile, DtypeNotString) {
  expect_invalid(st_bytes(R"({"w": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}})", 4),
                 {"tensor 'w'", "'dtype' is a JSON integer"});
}

TEST(SafetensorsHostile, UnknownDtype) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "Q4_K", "shape": [1], "data_offsets": [0, 4]}})", 4),
                 {"tensor 'w'", "unknown dtype 'Q4_K'"});
}

TEST(SafetensorsHostile, MissingShape) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", 4), {"tensor 'w'", "missing 'shape'"});
}

TEST(SafetensorsHostile, ShapeNotArray) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})", 4),
                 {"tensor 'w'", "'shape' is a JSON integer"});
}

TEST(SafetensorsHostile, NegativeDim) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": [2, -3], "data_offsets": [0, 4]}})", 4),
                 {"tensor 'w'", "shape[1] is -3"});
}

TEST(SafetensorsHostile, NonIntegerDim) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4),
                 {"tensor 'w'", "shape[0] is 1.5"});
}

TEST(SafetensorsHostile, DimNotNumber) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": ["1"], "data_offsets": [0, 4]}})", 4),
                 {"tensor 'w'", "shape[0] is a JSON string"});
}

TEST(SafetensorsHostile, ShapeProductOverflows) {
  // 2^32 * 2^32 = 2^64: each dim is fine, the product wraps to 0 without a checked multiply.
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0),
                 {"tensor 'w'", "shape[1]", "overflow"});
}

TEST(SafetensorsHostile, ByteCountOverflows) {
  // 2^62 elements fit in int64, but times 4 bytes wraps to 0 (which would match [0, 0]).
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 0]}})", 0),
                 {"tensor 'w'", "hold 0 bytes", "needs 4611686018427387904 x 4"});
}

TEST(SafetensorsHostile, MissingDataOffsets) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": [1]}})", 4), {"tensor 'w'", "missing 'data_offsets'"});
}

TEST(SafetensorsHostile, DataOffsetsNotArray) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": "0-4"}})", 4),
                 {"tensor 'w'", "'data_offsets'", "JSON string"});
}

TEST(SafetensorsHostile, DataOffsetsWrongLength) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}})", 8),
                 {"tensor 'w'", "'data_offsets'", "3 elements"});
}

TEST(SafetensorsHostile, NegativeDataOffset) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})", 4),
                 {"tensor 'w'", "data_offsets[0] is -4"});
}

TEST(SafetensorsHostile, NonIntegerDataOffset) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4.5]}})", 8),
                 {"tensor 'w'", "data_offsets[1] is 4.5"});
}

TEST(SafetensorsHostile, DataOffsetsBeginPastEnd) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8),
                 {"tensor 'w'", "[8, 4]", "begin is past end"});
}

TEST(SafetensorsHostile, DataOffsetsPastDataSection) {
  expect_invalid(st_bytes("{" + kGoodEntry + R"(, "w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})", 12),
                 {"tensor 'w'", "[8, 16]", "past the data section (12 bytes)"});
}

TEST(SafetensorsHostile, ByteCountDoesNotMatchShape) {
  expect_invalid(st_bytes(R"({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 8]}})", 8),
                 {"tensor 'w'", "hold 8 bytes", "BF16", "[2, 3]", "needs 12 bytes"});
}

TEST(SafetensorsHostile, OverlappingTensors) {
  // Listed out of order on purpose: the overlap is only visible once sorted by offset.
  expect_invalid(st_bytes(R"({"b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}, )" + kGoodEntry + "}", 12),
                 {"'good' [0, 8)", "'b' [4, 12)", "overlap"});
}

TEST(SafetensorsHostile, MetadataNotObject) {
  expect_invalid(st_bytes(R"({"__metadata__": ["pt"], )" + kGoodEntry + "}", 8), {"__metadata__ is a JSON array"});
}

TEST(SafetensorsHostile, MetadataValueNotString) {
  expect_invalid(st_bytes(R"({"__metadata__": {"format": "pt", "step": 3}, )" + kGoodEntry + "}", 8),
                 {"__metadata__.step", "JSON integer", "expected a string"});
}

}  // namespace
}  // namespace ps
