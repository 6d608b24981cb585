// Hostile connections to the store: each is refused with one log line and closed, and every
// other client, including one parked in a GET, keeps being served.
#include <gtest/gtest.h>

#include <thread>

#include "comm_test_util.h"

namespace ps::test {
namespace {

// The reply a refused connection gets before the server closes it.
std::string error_reply(const std::vector<uint8_t>& bytes) {
  const StoreDecode d = store_decode(bytes);
  EXPECT_EQ(d.status, StoreDecode::Status::Message);
  EXPECT_EQ(d.consumed, bytes.size()) << "more than one frame before close";
  EXPECT_EQ(d.message.op, StoreOp::Error);
  return d.message.text;
}

// Runs `attack` against a live server while a legitimate client is parked in a GET; checks the
// attack's connection is closed, that exactly one refusal line naming `reason` was logged, and
// that the parked client and a new one are still served.
void expect_refused_and_others_served(const std::function<std::vector<uint8_t>(RawConn&)>& attack,
                                      const std::string& reason, milliseconds hello_timeout = milliseconds(10000)) {
  auto server = start_server(hello_timeout);
  std::vector<uint8_t> parked_got;
  std::thread parked([&] { parked_got = connect_client(*server)->get("k", milliseconds(20000)); });

  testing::internal::CaptureStderr();
  std::vector<uint8_t> reply;
  {
    RawConn raw(*server);
    reply = attack(raw);
  }
  auto good = connect_client(*server);
  good->set("k", bytes_of("v"));
  parked.join();
  const std::string log = testing::internal::GetCapturedStderr();

  EXPECT_EQ(parked_got, bytes_of("v"));
  EXPECT_TRUE(good->check({"k"}));
  if (!reply.empty()) {
    EXPECT_NE(error_reply(reply).find(reason), std::string::npos);
  }
  EXPECT_NE(log.find("store: refused connection from 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find(reason), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
}

TEST(StoreSecurity, WrongTokenIsRefusedAndTheClientSaysWhy) {
  auto server = start_server();
  testing::internal::CaptureStderr();
  const std::string err = error_of([&] { connect_client(*server, "not-the-token"); }, ErrorKind::Runtime);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("bad job token"), std::string::npos) << err;
  EXPECT_NE(err.find("PIPESHARD_JOB_TOKEN"), std::string::npos) << err;
  EXPECT_NE(log.find("store: refused connection from 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find(": bad job token"), std::string::npos) << log;
  connect_client(*server)->set("fine", bytes_of("1"));
}

TEST(StoreSecurity, WrongTokenRawConnection) {
  expect_refused_and_others_served(
      [](RawConn& c) {
        c.send(store_encode(store_hello("wrong")));
        return c.read_until_closed();
      },
      "bad job token");
}

TEST(StoreSecurity, TokenThatIsAPrefixOfTheRealOne) {
  expect_refused_and_others_served(
      [](RawConn& c) {
        c.send(store_encode(store_hello(kToken.substr(0, kToken.size() - 1))));
        return c.read_until_closed();
      },
      "bad job token");
}

TEST(StoreSecurity, RequestWithoutHello) {
  expect_refused_and_others_served(
      [](RawConn& c) {
        c.send(store_encode(store_set("k", bytes_of("evil"))));
        return c.read_until_closed();
      },
      "expected HELLO, got SET");
}

TEST(StoreSecurity, WrongProtocolVersion) {
  expect_refused_and_others_served(
      [](RawConn& c) {
        c.send(store_encode(store_hello(kToken, kStoreProtocolVersion + 1)));
        return c.read_until_closed();
      },
      "protocol version 2");
}

TEST(StoreSecurity, GarbageBytes) {
  expect_refused_and_others_served(
      [](RawConn& c) {
        c.send(bytes_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        return c.read_until_closed();
      },
      "malformed message");
}

TEST(StoreSecurity, SilentConnectionIsDroppedAtTheHelloDeadline) {
  expect_refused_and_others_served([](RawConn& c) { return c.read_until_closed(); }, "no HELLO within 1 s",
                                   milliseconds(1000));
}

TEST(StoreSecurity, OversizedFrameAfterHelloDropsThatConnection) {
  auto server = start_server();
  auto good = connect_client(*server);
  testing::internal::CaptureStderr();
  RawConn raw(*server);
  raw.send(store_encode(store_hello(kToken)));
  raw.send({0xf0, 0xff, 0xff, 0xff, 0x02});  // a SET of almost 4 GiB
  const std::vector<uint8_t> got = raw.read_until_closed();
  const std::string log = testing::internal::GetCapturedStderr();
  // The OK for HELLO, then the ERROR.
  const StoreDecode ok = store_decode(got);
  ASSERT_EQ(ok.status, StoreDecode::Status::Message);
  EXPECT_EQ(ok.message.op, StoreOp::Ok);
  EXPECT_NE(error_reply({got.begin() + static_cast<std::ptrdiff_t>(ok.consumed), got.end()}).find("over the limit"),
            std::string::npos);
  EXPECT_NE(log.find("store: dropped connection from 127.0.0.1:"), std::string::npos) << log;
  good->set("k", bytes_of("1"));
  EXPECT_TRUE(good->check({"k"}));
}

}  // namespace
}  // namespace ps::test
