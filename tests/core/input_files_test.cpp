// The one way files are opened for reading (runtime/core/files.h): regular files only, never a
// blocking open, size caps per kind, and line reading that yields what std::getline would.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/core/files.h"
#include "support/test_support.h"

namespace ps {
namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

std::vector<std::pair<std::string, int64_t>> lines_of(const std::string& path, FileCap cap) {
  std::vector<std::pair<std::string, int64_t>> out;
  file_read_lines(path, cap, [&](std::string_view l, int64_t n) { out.emplace_back(std::string(l), n); });
  return out;
}

TEST(InputFiles, LinesAreWhatGetlineYields) {
  test::TempDir tmp;
  for (const std::string& text : std::vector<std::string>{"", "a", "a\n", "a\n\nb", "a\nb\n\n", "\n", std::string(200000, 'x') + "\ny"}) {
    test::write_text(tmp.file("f"), text);
    std::vector<std::pair<std::string, int64_t>> expected;
    std::istringstream in(text);
    int64_t n = 0;
    for (std::string l; std::getline(in, l);) expected.emplace_back(l, ++n);
    EXPECT_EQ(lines_of(tmp.file("f"), kRequestLineCap), expected) << text.substr(0, 20);
  }
}

TEST(InputFiles, ALineOverItsCapNamesFileLineAndCap) {
  test::TempDir tmp;
  test::write_text(tmp.file("f"), "short\n" + std::string((2 << 20) + 1, 'x') + "\n");
  const std::string m = message_of([&] { lines_of(tmp.file("f"), FileCap{"request line", 2 << 20}); });
  EXPECT_NE(m.find(tmp.file("f") + ": line 2: more than 2097152 bytes, over the 2 MiB cap for a request line"),
            std::string::npos)
      << m;
}

TEST(InputFiles, AWholeFileOverItsCapIsRefusedFromItsSize) {
  test::TempDir tmp;
  test::write_text(tmp.file("f"), std::string((1 << 20) + 1, ' '));
  const std::string m = message_of([&] { file_read_all(tmp.file("f"), FileCap{"JSON file", 1 << 20}); });
  EXPECT_NE(m.find(tmp.file("f") + ": 1048577 bytes, over the 1 MiB cap for a JSON file"), std::string::npos) << m;
  EXPECT_EQ(file_read_all(tmp.file("f"), FileCap{"JSON file", (1 << 20) + 1}).size(), size_t{(1 << 20) + 1});
}

TEST(InputFiles, SpecialFilesAreRefusedWithoutBlocking) {
  test::TempDir tmp;
  ASSERT_EQ(::mkfifo(tmp.file("fifo").c_str(), 0644), 0);
  EXPECT_NE(message_of([&] { file_open_input(tmp.file("fifo")); }).find(tmp.file("fifo") + ": is a FIFO"), std::string::npos);
  EXPECT_NE(message_of([&] { file_read_all("/dev/zero", kJsonFileCap); }).find("/dev/zero: is a character device"),
            std::string::npos);
  EXPECT_NE(message_of([&] { file_read_all(tmp.path(), kJsonFileCap); }).find(": is a directory"), std::string::npos);
  EXPECT_NE(message_of([&] { file_read_all(tmp.file("missing"), kJsonFileCap); }).find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace ps
