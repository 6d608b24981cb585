// The TCP store over real loopback sockets: set/get/wait/add/check across clients, deadlines that
// name the keys, a server that goes away, and a port already in use.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "comm_test_util.h"

namespace ps::test {
namespace {

TEST(TcpStore, SetGetAcrossClients) {
  auto server = start_server();
  auto a = connect_client(*server);
  auto b = connect_client(*server);
  const std::vector<uint8_t> value = {0, 1, 2, 255, 0};
  a->set("k", value);
  EXPECT_EQ(b->get("k", milliseconds(5000)), value);
  a->set("k", bytes_of("replaced"));
  EXPECT_EQ(b->get("k", milliseconds(5000)), bytes_of("replaced"));
  a->set("empty", {});
  EXPECT_TRUE(b->get("empty", milliseconds(5000)).empty());
  // A value of several MiB arrives whole.
  std::vector<uint8_t> big(5 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 31 + 7);
  b->set("big", big);
  EXPECT_EQ(a->get("big", milliseconds(5000)), big);
}

TEST(TcpStore, GetAndWaitBlockUntilAnotherClientSets) {
  auto server = start_server();
  auto setter = connect_client(*server);
  std::vector<uint8_t> got;
  std::thread getter([&] {
    auto c = connect_client(*server);
    got = c->get("late", milliseconds(20000));
    c->wait({"x", "y", "z"}, milliseconds(20000));
  });
  std::this_thread::sleep_for(milliseconds(50));  // lets the getter park first (not needed to pass)
  setter->set("late", bytes_of("v"));
  for (const char* k : {"x", "y", "z"}) setter->set(k, bytes_of(k));
  getter.join();
  EXPECT_EQ(got, bytes_of("v"));
}

TEST(TcpStore, AddFromManyClientsCounts) {
  auto server = start_server();
  run_ranks(4, [&](int) {
    auto c = connect_client(*server);
    for (int i = 0; i < 50; ++i) c->add("n", 1);
  });
  auto c = connect_client(*server);
  EXPECT_EQ(c->add("n", 0), 200);
  EXPECT_EQ(c->add("n", -201), -1);
  EXPECT_EQ(c->get("n", milliseconds(1000)), bytes_of("-1"));  // counters are decimal text
  c->set("text", bytes_of("abc"));
  const std::string err = error_of([&] { c->add("text", 1); }, ErrorKind::Runtime);
  EXPECT_NE(err.find("ADD 'text': the value is not an integer"), std::string::npos) << err;
  EXPECT_EQ(c->add("n", 2), 1);  // an ERROR reply leaves the connection usable
}

TEST(TcpStore, EraseRemovesKeysForEveryClient) {
  auto server = start_server();
  auto a = connect_client(*server);
  auto b = connect_client(*server);
  a->set("out/0/0", bytes_of("r0"));
  a->set("out/0/1", bytes_of("r1"));
  b->erase({"out/0/0", "never-set"});  // absent keys are ignored
  EXPECT_FALSE(a->check({"out/0/0"}));
  EXPECT_TRUE(a->check({"out/0/1"}));
  EXPECT_THROW(a->get("out/0/0", milliseconds(50)), Error);
  a->set("out/0/0", bytes_of("again"));  // an erased key can be set anew
  EXPECT_EQ(b->get("out/0/0", milliseconds(1000)), bytes_of("again"));
}

TEST(TcpStore, CheckDoesNotWait) {
  auto server = start_server();
  auto c = connect_client(*server);
  EXPECT_FALSE(c->check({"a"}));
  c->set("a", bytes_of("1"));
  EXPECT_TRUE(c->check({"a"}));
  EXPECT_FALSE(c->check({"a", "b"}));
}

TEST(TcpStore, GetTimeoutNamesTheKey) {
  auto server = start_server();
  auto c = connect_client(*server);
  const std::string err = error_of([&] { c->get("never/set", milliseconds(100)); }, ErrorKind::Timeout);
  EXPECT_NE(err.find("key 'never/set' was not set within 100 ms"), std::string::npos) << err;
  EXPECT_NE(err.find("127.0.0.1:" + std::to_string(server->port())), std::string::npos) << err;
  c->set("after", bytes_of("1"));  // a TIMEOUT reply is an answer, not a broken connection
  EXPECT_TRUE(c->check({"after"}));
}

TEST(TcpStore, WaitTimeoutNamesOnlyTheMissingKeys) {
  auto server = start_server();
  auto c = connect_client(*server);
  c->set("present", bytes_of("1"));
  const std::string err = error_of([&] { c->wait({"present", "gone1", "gone2"}, milliseconds(100)); },
                                   ErrorKind::Timeout);
  EXPECT_NE(err.find("'gone1', 'gone2'"), std::string::npos) << err;
  EXPECT_EQ(err.find("'present'"), std::string::npos) << err;
  EXPECT_EQ(error_of([&] { c->get("x", milliseconds(0)); }, ErrorKind::Timeout).empty(), false);
}

TEST(TcpStore, OversizedKeyIsRefusedBeforeSendingAndTheClientGoesOn) {
  auto server = start_server();
  auto c = connect_client(*server);
  const std::string err = error_of([&] { c->set(std::string(5000, 'k'), bytes_of("1")); }, ErrorKind::Runtime);
  EXPECT_NE(err.find("is 5000 bytes (limit 4096)"), std::string::npos) << err;
  c->set("ok", bytes_of("1"));
  EXPECT_TRUE(c->check({"ok"}));
}

TEST(TcpStore, ServerGoingAwayFailsAParkedGetNamingServerAndOperation) {
  auto server = start_server();
  auto c = connect_client(*server);
  const std::string endpoint = server->endpoint();
  std::string err;
  std::thread t([&] { err = error_of([&] { c->get("k", milliseconds(60000)); }, ErrorKind::Runtime); });
  std::this_thread::sleep_for(milliseconds(50));
  server.reset();
  t.join();
  EXPECT_NE(err.find("store " + endpoint + ": GET 'k'"), std::string::npos) << err;
  // Later calls fail at once, saying why.
  const std::string again = error_of([&] { c->set("x", {}); }, ErrorKind::Runtime);
  EXPECT_NE(again.find("not connected"), std::string::npos) << again;
}

// A port nobody listens on: bound (so no one else takes it) but not listening.
struct UnlistenedPort {
  net::Fd fd{::socket(AF_INET, SOCK_STREAM, 0)};
  uint16_t port = 0;
  UnlistenedPort() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
};

TEST(TcpStore, ClientGivesUpConnectingAtItsDeadline) {
  UnlistenedPort p;
  TcpStoreClientOptions o;
  o.port = p.port;
  o.token = kToken;
  o.connect_timeout = milliseconds(300);
  const std::string err = error_of([&] { TcpStoreClient c(o); }, ErrorKind::Timeout);
  EXPECT_NE(err.find("could not connect to 127.0.0.1:" + std::to_string(p.port) + " within 300 ms"), std::string::npos)
      << err;
}

TEST(TcpStore, ClientRetriesUntilTheServerStarts) {
  uint16_t port;
  {
    UnlistenedPort p;  // find a free port, then release it for the server
    port = p.port;
  }
  std::atomic<bool> ok{false};
  std::thread client([&] {
    TcpStoreClientOptions o;
    o.port = port;
    o.token = kToken;
    o.connect_timeout = milliseconds(20000);
    TcpStoreClient c(o);
    ok = c.get("hello", milliseconds(20000)) == bytes_of("world");
  });
  std::this_thread::sleep_for(milliseconds(200));  // the client is retrying meanwhile
  TcpStoreServerOptions so;
  so.port = port;
  so.token = kToken;
  TcpStoreServer server(so);
  connect_client(server)->set("hello", bytes_of("world"));
  client.join();
  EXPECT_TRUE(ok);
}

TEST(TcpStore, PortAlreadyInUseIsAClearError) {
  auto first = start_server();
  TcpStoreServerOptions o;
  o.port = first->port();
  o.token = kToken;
  const std::string err = error_of([&] { TcpStoreServer second(o); }, ErrorKind::Runtime);
  EXPECT_NE(err.find("127.0.0.1:" + std::to_string(first->port())), std::string::npos) << err;
  EXPECT_NE(err.find("already in use"), std::string::npos) << err;
  connect_client(*first)->set("still", bytes_of("1"));  // the first server is unaffected
}

TEST(TcpStore, EmptyTokenIsRefused) {
  TcpStoreServerOptions o;
  EXPECT_THROW(TcpStoreServer s(o), Error);
}

}  // namespace
}  // namespace ps::test
