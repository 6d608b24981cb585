// Strangers at a running job's store (issue 7): a connection with no token, one with a wrong
// token, and one sending garbage are each refused (closed, and logged by rank 0), and the job
// still completes with the output it gives undisturbed.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "integration/integration_util.h"
#include "runtime/comm/store_protocol.h"

namespace ps::integ {
namespace {

// Connects to 127.0.0.1:port (retrying while the job starts), sends `bytes`, and returns whether
// the server closed the connection within 15 s (reading whatever error reply came first).
bool refused_after(int port, const std::vector<uint8_t>& bytes) {
  int fd = -1;
  const auto t0 = Clock::now();
  for (;;) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) break;
    ::close(fd);
    if (seconds_since(t0) > 30) return false;
    std::this_thread::sleep_for(20ms);
  }
  timeval tv{15, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (!bytes.empty() && ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) {
    ::close(fd);
    return true;  // already closed on us
  }
  char buf[512];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
  }
  ::close(fd);
  return n == 0 || (n < 0 && errno == ECONNRESET);  // closed by the server, not a timeout
}

TEST(StoreSecurity, StrangersAreRefusedAndTheJobCompletes) {
  test::TempDir dir;
  make_model(dir.path(), "llama");
  std::vector<Json> reqs = mixed_requests(24, 12, 1, 5);
  for (auto& r : reqs) r["max_new_tokens"] = 24;
  const std::string input = dir.file("requests.jsonl");
  write_jsonl(input, reqs);
  PlanSpec p;
  p.model = "llama";
  p.stages = 2;
  p.batch = 4;
  p.micro_batches = 2;
  const std::string plan = write_plan(dir.file("plan.json"), p);
  const std::string clean = dir.file("clean.jsonl"), out = dir.file("out.jsonl");
  auto r = pipeshard({"run", "--plan", plan, "--input", input, "--output", clean}, dir.file("clean"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const int port = free_port();
  Proc job({pipeshard_bin(), "run", "--plan", plan, "--input", input, "--output", out, "--master-port",
            std::to_string(port), "--threads", "1"},
           clean_env(), dir.file("job"));
  const std::vector<uint8_t> wrong_token = store_encode(store_hello("not-the-job-token"));
  std::vector<uint8_t> no_token_set = store_encode(store_set("job/config", {'x'}));  // no HELLO first
  const std::vector<uint8_t> garbage = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0xff, 0xff};
  EXPECT_TRUE(refused_after(port, no_token_set)) << "a request without HELLO was not refused";
  EXPECT_TRUE(refused_after(port, wrong_token)) << "a wrong token was not refused";
  EXPECT_TRUE(refused_after(port, garbage)) << "garbage was not refused";

  ASSERT_EQ(job.wait(120s), 0) << job.err();
  EXPECT_EQ(test::read_text(out), test::read_text(clean));
  const std::string log = job.err() + job.out();
  EXPECT_TRUE(contains(log, "refused connection")) << log;
  EXPECT_TRUE(contains(log, "bad job token")) << log;
}

}  // namespace
}  // namespace ps::integ
