// The strict flag parser (tools/cli/args.h): no value wraps when narrowed, floats are finite,
// empty values and stray words are refused; and the real binary exits 2 naming the flag.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "support/test_support.h"
#include "tools/cli/args.h"

namespace ps::cli {
namespace {

const std::vector<OptionSpec> kSpecs = {{"threads", true, ""}, {"slots", true, ""}, {"temperature", true, ""},
                                        {"top-p", true, ""},   {"seed", true, ""},  {"output", true, ""},
                                        {"ids", true, ""},     {"json", false, ""}};

Args parse(const std::vector<std::string>& argv) { return Args("cmd", argv, kSpecs); }

// The InvalidInput message of f, or "" when f does not throw one.
std::string rejection(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    return e.what();
  }
  return "";
}

void expect_rejected(const std::function<void()>& f, const std::vector<std::string>& needles) {
  const std::string msg = rejection(f);
  ASSERT_FALSE(msg.empty()) << "accepted, expected a rejection naming " << needles.front();
  for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
}

TEST(StrictFlags, IntegersDoNotWrap) {
  expect_rejected([] { parse({"--threads", "4294967297"}).int32("threads", 0, 1, kThreadsMax); },
                  {"--threads: 4294967297 is not in 1..1024"});
  expect_rejected([] { parse({"--threads", "-1"}).int32("threads", 0, 1, kThreadsMax); }, {"--threads: -1 is not in 1..1024"});
  expect_rejected([] { parse({"--slots", "4294967296"}).int32("slots", 8, 1); }, {"--slots: 4294967296 is not in 1..2147483647"});
  expect_rejected([] { parse({"--slots", "99999999999999999999"}).integer("slots", 8, 1, INT64_MAX); },
                  {"--slots: 99999999999999999999 is not in 1.."});
  EXPECT_EQ(parse({"--slots", "2147483647"}).int32("slots", 8, 1), 2147483647);
  EXPECT_EQ(parse({"--threads", "1024"}).int32("threads", 0, 1, kThreadsMax), 1024);
  EXPECT_EQ(parse({}).int32("threads", 0, 1, kThreadsMax), 0);  // absent: the default, unchecked
}

TEST(StrictFlags, IntegersHaveNoJunk) {
  for (const std::string v : {"4x", "1.5", " 4", "4 ", "+4", "0x10", "four"})
    expect_rejected([&] { parse({"--threads", v}).int32("threads", 0, 1, kThreadsMax); },
                    {"--threads", "'" + v + "'", "not an integer"});
}

TEST(StrictFlags, SeedsAreTheWholeUint64Range) {
  EXPECT_EQ(parse({"--seed", "18446744073709551615"}).uint64("seed", 0), UINT64_MAX);
  EXPECT_EQ(parse({"--seed", "0"}).uint64("seed", 7), 0u);
  EXPECT_EQ(parse({}).uint64("seed", 7), 7u);
  for (const std::string v : {"-1", "18446744073709551616", "1e3"})
    expect_rejected([&] { parse({"--seed", v}).uint64("seed", 0); }, {"--seed", "'" + v + "'"});
}

TEST(StrictFlags, FloatsAreFiniteAndInRange) {
  for (const std::string v : {"nan", "NaN", "inf", "-inf", "1e999"})
    expect_rejected([&] { parse({"--temperature", v}).opt_number("temperature", 0, 1e30); },
                    {"--temperature", "'" + v + "'", "not a finite number"});
  expect_rejected([] { parse({"--temperature", "-0.5"}).opt_number("temperature", 0, 1e30); },
                  {"--temperature: -0.5 is not in [0, "});
  expect_rejected([] { parse({"--temperature", " 1"}).opt_number("temperature", 0, 1e30); }, {"not a number"});
  expect_rejected([] { parse({"--temperature", "1x"}).opt_number("temperature", 0, 1e30); }, {"not a number"});
  expect_rejected([] { parse({"--top-p", "0"}).opt_number("top-p", 0, 1, Args::Lower::Open); }, {"--top-p: 0 is not in (0, 1]"});
  expect_rejected([] { parse({"--top-p", "1.01"}).opt_number("top-p", 0, 1, Args::Lower::Open); }, {"--top-p"});
  EXPECT_EQ(parse({"--top-p", "1"}).opt_number("top-p", 0, 1, Args::Lower::Open), 1.0);
  EXPECT_EQ(parse({"--temperature", "0"}).opt_number("temperature", 0, 1e30), 0.0);
  EXPECT_EQ(parse({"--temperature=0.25"}).number("temperature", 1, 0, 1e30), 0.25);
}

TEST(StrictFlags, EmptyValuesAreRefused) {
  expect_rejected([] { parse({"--output", ""}); }, {"--output", "empty"});
  expect_rejected([] { parse({"--output="}); }, {"--output", "empty"});
  expect_rejected([] { parse({"--threads", ""}); }, {"--threads", "empty"});
}

TEST(StrictFlags, StrayWordsAreRefused) {
  expect_rejected([] { parse({"--json", "extra"}); }, {"unexpected argument 'extra'"});
  expect_rejected([] { parse({"stray", "--threads", "2"}); }, {"'stray'"});
  expect_rejected([] { parse({"--threads", "2", "-5"}); }, {"'-5'"});
  expect_rejected([] { parse({"--"}); }, {"'--'"});
  expect_rejected([] { Args("launch", {"python"}, kSpecs, "the worker command goes after --"); },
                  {"'python'", "goes after --"});
}

TEST(StrictFlags, BothValueForms) {
  const Args a = parse({"--threads=3", "--slots", "4", "--output=a=b", "--json", "--ids", "-1,2"});
  EXPECT_EQ(a.int32("threads", 0, 1, kThreadsMax), 3);
  EXPECT_EQ(a.int32("slots", 0, 1), 4);
  EXPECT_EQ(a.str("output", ""), "a=b");
  EXPECT_TRUE(a.flag("json"));
  EXPECT_EQ(a.int_list("ids", -1, 2), (std::vector<int64_t>{-1, 2}));
  expect_rejected([&] { a.int_list("ids", 0, 2); }, {"--ids: -1 is not in 0..2"});
  expect_rejected([] { parse({"--ids", "1,,2"}).int_list("ids", 0, 9); }, {"--ids", "not an integer"});
  expect_rejected([] { parse({"--json=1"}); }, {"--json", "takes no value"});
  expect_rejected([] { parse({"--threads"}); }, {"--threads", "needs a value"});
}

TEST(StrictFlags, LongValuesAreQuotedShort) {
  const std::string huge(100000, '7');
  const std::string msg = rejection([&] { parse({"--threads", huge}).int32("threads", 0, 1, kThreadsMax); });
  EXPECT_NE(msg.find("--threads"), std::string::npos) << msg;
  EXPECT_LT(msg.size(), 300u) << "the message echoes the whole value";
  const std::string unknown = rejection([&] { parse({"--" + huge, "1"}); });
  EXPECT_NE(unknown.find("unknown option --777"), std::string::npos) << unknown.substr(0, 200);
  EXPECT_LT(unknown.size(), 1000u) << "the message echoes the whole option name";
}

// ---- the real binary: exit 2 up front, naming the flag and its value ---------------------------

class StrictFlagsBinary : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    const auto r = test::run_pipeshard({"make-model", "--family", "llama", "--out", model()}, 60);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string model() { return dir_->file("m"); }
  static std::string output() { return dir_->file("out.jsonl"); }

  static void expect_refused(std::vector<std::string> args, const std::vector<std::string>& needles) {
    const auto r = test::run_pipeshard(args, 30);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "'" << n << "' not in: " << r.err;
    EXPECT_EQ(r.out, "") << "a refused command printed results";
    EXPECT_FALSE(test::file_exists(output())) << "a refused command wrote its output";
  }
  static std::vector<std::string> generate(const std::vector<std::string>& extra) {
    std::vector<std::string> a = {"generate", "--model", model(), "--prompt-ids", "1,2", "--output", output()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  static test::TempDir* dir_;
};

test::TempDir* StrictFlagsBinary::dir_ = nullptr;

TEST_F(StrictFlagsBinary, ThreadsThatWouldWrap) {
  expect_refused(generate({"--threads", "4294967297"}), {"--threads", "4294967297"});
  expect_refused(generate({"--threads", "-1"}), {"--threads", "-1"});
  expect_refused(generate({"--threads=0"}), {"--threads: 0 is not in 1..1024"});
}

TEST_F(StrictFlagsBinary, SlotsThatWouldWrap) {
  expect_refused(generate({"--slots", "4294967296"}), {"--slots", "4294967296"});
}

TEST_F(StrictFlagsBinary, NonFiniteTemperature) {
  expect_refused(generate({"--temperature", "nan"}), {"--temperature", "nan"});
  expect_refused(generate({"--temperature", "inf"}), {"--temperature", "inf"});
}

TEST_F(StrictFlagsBinary, EmptyOutput) {
  expect_refused({"generate", "--model", model(), "--prompt-ids", "1,2", "--output", ""}, {"--output", "empty"});
}

TEST_F(StrictFlagsBinary, StrayWordInEveryCommand) {
  expect_refused(generate({"oops"}), {"generate", "'oops'"});
  expect_refused({"forward", "oops", "--model", model()}, {"forward", "'oops'"});
  expect_refused({"run", "--plan", "p.json", "oops"}, {"run", "'oops'"});
  expect_refused({"worker", "oops"}, {"worker", "'oops'"});
  expect_refused({"make-model", "--family", "llama", "--out", dir_->file("m2"), "oops"}, {"make-model", "'oops'"});
  expect_refused({"launch", "oops", "--", "true"}, {"launch", "'oops'", "after --"});
  EXPECT_FALSE(test::file_exists(dir_->file("m2")));
}

TEST_F(StrictFlagsBinary, SeedsAndPorts) {
  expect_refused({"make-model", "--family", "llama", "--seed", "-1", "--out", dir_->file("m3")}, {"--seed", "-1"});
  expect_refused({"run", "--plan", "p.json", "--input", "x", "--output", output(), "--master-port", "65536"},
                 {"--master-port", "65536", "1..65535"});
  expect_refused({"run", "--plan", "p.json", "--input", "x", "--output", output(), "--timeout-seconds", "0"},
                 {"--timeout-seconds: 0 is not in (0, "});
}

TEST_F(StrictFlagsBinary, ValidFlagsStillWork) {
  const auto r = test::run_pipeshard(generate({"--threads", "1", "--slots", "1", "--temperature=0", "--seed",
                                               "18446744073709551615", "--max-new-tokens", "2"}),
                                     60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out, "") << "--prompt-ids prints its tokens";
}

}  // namespace
}  // namespace ps::cli
