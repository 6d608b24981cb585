// json_parse's strict reading and the integer getters, against hand-written inputs whose right
// answer is known: what nlohmann's DOM parser let through (a NUL ending the text, a key given
// twice, 2^64-1 read back as -1) is refused with the source, the byte offset or the key's path.
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/core/error.h"
#include "runtime/core/json_util.h"

namespace ps {
namespace {

// The InvalidInput message json_parse gives, or "" when it accepts the text.
std::string refusal(const std::string& text) {
  try {
    json_parse(text, "f.json");
    return "";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << e.what();
    return e.what();
  }
}

std::string int_refusal(const std::string& text, bool as_uint64 = false) {
  try {
    const Json j = json_parse(text, "f.json");
    const JsonField f{j, "f.json:"};
    as_uint64 ? (void)f.require_uint64("v") : (void)f.require_int("v");
    return "";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << e.what();
    return e.what();
  }
}

TEST(JsonStrict, TrailingBytesAreRefusedWithTheirOffset) {
  EXPECT_EQ(refusal("{\"a\": 1} x").rfind("f.json: not valid JSON: byte 9: ", 0), 0u) << refusal("{\"a\": 1} x");
  EXPECT_NE(refusal("{\"a\": 1}{\"b\": 2}").find("expected end of input"), std::string::npos);
  EXPECT_NE(refusal("[1] [2]").find("byte 4"), std::string::npos) << refusal("[1] [2]");
  EXPECT_NE(refusal("{\"a\": [1, 2").find("byte 11"), std::string::npos) << refusal("{\"a\": [1, 2");  // at the end
  EXPECT_NE(refusal("{\"a\": \"x\xff\"}").find("byte 8"), std::string::npos) << refusal("{\"a\": \"x\xff\"}");
  EXPECT_EQ(refusal("{\"a\": 1} \n\t\r\n"), "");  // whitespace may follow
}

TEST(JsonStrict, ANulAnywhereIsRefusedWithItsOffset) {
  EXPECT_EQ(refusal(std::string("{\"id\":\"a\"}") + '\0' + "{\"id\":\"b\"}"), "f.json: not valid JSON: byte 10: a NUL byte");
  EXPECT_EQ(refusal(std::string("{\"a\": 1}") + '\0'), "f.json: not valid JSON: byte 8: a NUL byte");
  EXPECT_EQ(refusal(std::string("{\"a\": \"x") + '\0' + "y\"}"), "f.json: not valid JSON: byte 8: a NUL byte");
  EXPECT_EQ(refusal(std::string(1, '\0')), "f.json: not valid JSON: byte 0: a NUL byte");
}

TEST(JsonStrict, DuplicateKeysAreRefusedNamingKeyAndPath) {
  EXPECT_EQ(refusal(R"({"stages": [], "model": "m", "stages": [1]})"),
            "f.json: stages: key appears twice in one object (JSON leaves which one counts undefined)");
  EXPECT_EQ(refusal(R"({"stages": [{"layers": "0-1"}, {"layers": "2-3", "device": "cpu", "layers": "4"}]})")
                .rfind("f.json: stages[1].layers: key appears twice", 0),
            0u);
  EXPECT_EQ(refusal(R"([0, [1, {"a": {"b": 1, "b": 2}}]])").rfind("f.json: [1][1].a.b: key appears twice", 0), 0u);
  // The same key in sibling objects, or at different depths, is no duplicate.
  EXPECT_EQ(refusal(R"({"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]})"), "");
  // A long key is quoted as an excerpt, not in full.
  const std::string key(5000, 'k');
  const std::string msg = refusal("{\"" + key + "\": 1, \"" + key + "\": 2}");
  EXPECT_NE(msg.find("... (5000 bytes)"), std::string::npos) << msg.size();
  EXPECT_LT(msg.size(), 200u);
}

TEST(JsonStrict, InvalidUtf8IsRefusedWithTheOffset) {
  const std::string bad = refusal("{\"a\": \"x\xff\"}");
  EXPECT_EQ(bad.rfind("f.json: not valid JSON: byte ", 0), 0u) << bad;
  EXPECT_NE(bad.find("UTF-8"), std::string::npos) << bad;
  EXPECT_NE(refusal("{\"a\xc3\": 1}"), "");                     // a cut-off sequence in a key
  EXPECT_NE(refusal(R"({"a": "\ud800"})"), "");                 // a lone surrogate escape
  EXPECT_NE(refusal("{\"a\": 1, \xe9}"), "");                   // outside a string
  EXPECT_EQ(refusal("{\"caf\xc3\xa9\": \"\xe2\x82\xac\"}"), "");  // valid UTF-8 is text
  // A long bad string is quoted as an excerpt.
  const std::string long_bad = refusal("{\"a\": \"" + std::string(10000, 'x') + "\xff\"}");
  EXPECT_LT(long_bad.size(), 300u) << long_bad.size();
}

TEST(JsonStrict, NumbersBeyondDoubleAreRefusedNamingTheSource) {
  EXPECT_EQ(refusal(R"({"a": 1e999})").rfind("f.json: not valid JSON: byte ", 0), 0u) << refusal(R"({"a": 1e999})");
}

TEST(JsonStrict, ValidInputsReadAsBefore) {
  const std::string text = R"({"b": [1, -2, 18446744073709551615, 2.5, true, null, "s"], "a": {"c": {}}, "e": []})";
  EXPECT_EQ(json_parse(text, "f.json"), Json::parse(text));
  EXPECT_TRUE(json_parse(text, "f.json")["b"][2].is_number_unsigned());
  EXPECT_EQ(json_parse("\xef\xbb\xbf[1]", "f.json"), Json::parse("[1]"));  // a UTF-8 BOM, as nlohmann reads it
  EXPECT_EQ(json_parse(" 7 ", "f.json"), Json(7));
  EXPECT_NE(refusal(""), "");
  EXPECT_NE(refusal("{\"a\": 1,}"), "");
}

TEST(JsonStrict, IntegersOutOfTheirRangeAreRefusedNotWrapped) {
  EXPECT_EQ(int_refusal(R"({"v": 9223372036854775807})"), "");
  EXPECT_EQ(int_refusal(R"({"v": 9223372036854775808})"), "f.json: v: 9223372036854775808 is too large");
  EXPECT_EQ(int_refusal(R"({"v": 18446744073709551615})"), "f.json: v: 18446744073709551615 is too large");
  // Beyond 64 bits nlohmann rounds to a double: never taken as the neighbour INT64_MIN.
  EXPECT_NE(int_refusal(R"({"v": -9223372036854775809})").find("outside the integer range"), std::string::npos);
  EXPECT_NE(int_refusal(R"({"v": 99999999999999999999})").find("outside the integer range"), std::string::npos);
  EXPECT_NE(int_refusal(R"({"v": 1e300})").find("outside the integer range"), std::string::npos);
  EXPECT_NE(int_refusal(R"({"v": 1000000000000000001.0})").find("outside the integer range"), std::string::npos);
  EXPECT_EQ(int_refusal(R"({"v": 4.0})"), "");
  EXPECT_EQ(int_refusal(R"({"v": 4.5})"), "f.json: v: expected an integer, got number 4.5");
  const Json j = json_parse(R"({"u": 18446744073709551615, "n": -3, "z": 0})", "f.json");
  const JsonField f{j, "f.json:"};
  EXPECT_EQ(f.require_uint64("u"), UINT64_MAX);
  EXPECT_EQ(f.require_uint64("z"), 0u);
  EXPECT_EQ(f.require_int("n"), -3);
  EXPECT_EQ(int_refusal(R"({"v": -1})", true), "f.json: v: must be >= 0, got -1");
  EXPECT_EQ(int_refusal(R"({"v": 18446744073709551616})", true).find("outside the integer range") != std::string::npos, true);
}

TEST(JsonStrict, TextExcerptShortensAndEscapes) {
  EXPECT_EQ(text_excerpt("abc"), "abc");
  EXPECT_EQ(text_excerpt(std::string("a\0\xff", 3)), "a\\x00\\xff");
  EXPECT_EQ(text_excerpt(std::string(50, 'x'), 4), "xxxx... (50 bytes)");
}

}  // namespace
}  // namespace ps
