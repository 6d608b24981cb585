// Small pieces: the local address toward a master, duration text, and the job token.
#include <gtest/gtest.h>

#include <cstdlib>

#include "runtime/comm/job_token.h"
#include "runtime/comm/net.h"
#include "runtime/core/error.h"

namespace ps {
namespace {

TEST(Net, LocalAddressForLoopbackMasterIsLoopback) {
  EXPECT_EQ(local_address_for("127.0.0.1"), "127.0.0.1");
  const std::string local = local_address_for("localhost");
  EXPECT_TRUE(local == "127.0.0.1" || local == "::1") << local;
}

TEST(Net, LocalAddressForUnresolvableNameIsBadInput) {
  try {
    local_address_for("no-such-host.invalid");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidInput);
    EXPECT_NE(std::string(e.what()).find("'no-such-host.invalid'"), std::string::npos) << e.what();
  }
}

TEST(Net, DurationText) {
  EXPECT_EQ(duration_str(std::chrono::milliseconds(250)), "250 ms");
  EXPECT_EQ(duration_str(std::chrono::milliseconds(5000)), "5 s");
  EXPECT_EQ(duration_str(std::chrono::milliseconds(1500)), "1.5 s");
}

TEST(JobToken, EqualityIsExact) {
  EXPECT_TRUE(job_token_equal("abc", "abc"));
  EXPECT_FALSE(job_token_equal("abd", "abc"));
  EXPECT_FALSE(job_token_equal("ab", "abc"));
  EXPECT_FALSE(job_token_equal("abcd", "abc"));
  EXPECT_FALSE(job_token_equal("", "abc"));
  EXPECT_TRUE(job_token_equal("", ""));
  EXPECT_FALSE(job_token_equal(std::string_view("ab\0", 3), "ab"));
}

TEST(JobToken, GeneratedTokensAreHexAndDistinct) {
  const std::string a = job_token_generate(), b = job_token_generate();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

TEST(JobToken, FromEnvironment) {
  ::setenv(kJobTokenEnv, "s3cret", 1);
  EXPECT_EQ(job_token_from_env().value_or(""), "s3cret");
  ::setenv(kJobTokenEnv, "", 1);
  EXPECT_FALSE(job_token_from_env().has_value());
  ::setenv(kJobTokenEnv, std::string(300, 't').c_str(), 1);
  EXPECT_THROW(job_token_from_env(), Error);
  ::unsetenv(kJobTokenEnv);
}

}  // namespace
}  // namespace ps
