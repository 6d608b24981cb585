// The in-memory transport the executor's tests run on (tests/support/memory_transport.h) keeps
// the Transport contract: bytes move, messages match in posting order per pair whatever their
// kind, sizes must agree, waits have deadlines, and closing fails what is pending.
#include <gtest/gtest.h>

#include "comm_test_util.h"
#include "kernels/owned_tensor.h"
#include "support/memory_transport.h"

namespace ps::test {
namespace {

TEST(MemoryTransport, MessagesMatchInPostingOrderPerPair) {
  auto hub = MemoryHub::create(3);
  auto t0 = hub->transport(0), t1 = hub->transport(1), t2 = hub->transport(2);
  OwnedTensor a(Shape{2, 2}), a_in(Shape{2, 2});
  for (int i = 0; i < 4; ++i) a.f32()[i] = 0.5f * static_cast<float>(i) - 1.0f;
  const std::vector<int32_t> ids = {7, -3}, more = {9};
  std::vector<int32_t> ids_in(2), more_in(1), from2(1);
  // Receives posted first on one pair, after the sends on another; 2 -> 1 does not disturb 0 -> 1.
  auto r1 = t1->recv_i32(ids_in, 0);
  auto r2 = t1->recv(a_in.view, 0);
  auto s3 = t2->send_i32(more, 1);
  auto s1 = t0->send_i32(ids, 1);
  auto s2 = t0->send(a.view, 1);
  auto r3 = t1->recv_i32(from2, 2);
  auto s4 = t0->send_i32(more, 1);
  auto r4 = t1->recv_i32(more_in, 0);
  for (auto* c : {r1.get(), r2.get(), r3.get(), r4.get(), s1.get(), s2.get(), s3.get(), s4.get()})
    c->wait(milliseconds(1000));
  EXPECT_EQ(ids_in, ids);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a_in.f32()[i], a.f32()[i]);
  EXPECT_EQ(from2, more);
  EXPECT_EQ(more_in, more);
  EXPECT_EQ(hub->unmatched(), 0u);
  const std::vector<MemoryMessage> want = {{2, 1, 4, false}, {0, 1, 8, false}, {0, 1, 16, true}, {0, 1, 4, false}};
  EXPECT_EQ(hub->log(), want);
  EXPECT_EQ(t0->stats().bytes_sent, 28u);
  EXPECT_EQ(t1->stats().recvs, 4u);
}

TEST(MemoryTransport, SizeMismatchTimeoutAndCloseNameTheOperation) {
  auto hub = MemoryHub::create(2);
  auto t0 = hub->transport(0), t1 = hub->transport(1);
  const std::vector<int32_t> three = {1, 2, 3};
  std::vector<int32_t> two(2);
  auto s = t0->send_i32(three, 1);
  auto r = t1->recv_i32(two, 0);
  EXPECT_EQ(error_of([&] { r->wait(milliseconds(1000)); }, ErrorKind::Runtime),
            "memory rank 1: recv from rank 0 (message #0, 8 bytes): size mismatch: rank 1 expects 8 bytes but rank 0 "
            "sent 12");
  EXPECT_NE(error_of([&] { s->wait(milliseconds(1000)); }, ErrorKind::Runtime).find("size mismatch"), std::string::npos);

  auto late = t1->recv_i32(two, 0);
  EXPECT_EQ(error_of([&] { late->wait(milliseconds(50)); }, ErrorKind::Timeout),
            "memory rank 1: recv from rank 0 (message #1, 8 bytes): not done within 50 ms");
  hub->close("the test ended it");
  EXPECT_EQ(error_of([&] { late->wait(milliseconds(1000)); }, ErrorKind::Runtime),
            "memory rank 1: recv from rank 0 (message #1, 8 bytes): the test ended it");
  EXPECT_NE(error_of([&] { t0->send_i32(three, 1)->wait(milliseconds(1000)); }, ErrorKind::Runtime).find("ended it"),
            std::string::npos);
  EXPECT_NE(error_of([&] { t0->send_i32(three, 0); }, ErrorKind::Runtime).find("not a peer"), std::string::npos);
}

}  // namespace
}  // namespace ps::test
