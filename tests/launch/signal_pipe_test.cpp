// SignalPipe: signals become records on a pipe, and everything is put back afterwards.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "runtime/core/error.h"
#include "runtime/launch/signal_pipe.h"

namespace ps {
namespace {

void (*handler_of(int sig))(int) {
  struct sigaction sa;
  sigaction(sig, nullptr, &sa);
  return sa.sa_handler;
}

TEST(SignalPipe, SignalsArriveInOrderWithTheirSender) {
  SignalPipe pipe;
  EXPECT_TRUE(pipe.read_events().empty());
  raise(SIGTERM);
  raise(SIGINT);
  const auto events = pipe.read_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].sig, SIGTERM);
  EXPECT_EQ(events[1].sig, SIGINT);
  EXPECT_EQ(events[0].pid, getpid());
  EXPECT_TRUE(pipe.read_events().empty());
}

TEST(SignalPipe, RestoresAndKeepsIgnoredSignalsIgnored) {
  signal(SIGHUP, SIG_IGN);  // as under `nohup`
  const auto term_before = handler_of(SIGTERM);
  const auto pipe_before = handler_of(SIGPIPE);  // a test runner may start us with it ignored
  {
    SignalPipe pipe;
    EXPECT_EQ(handler_of(SIGHUP), SIG_IGN);
    EXPECT_EQ(handler_of(SIGPIPE), SIG_IGN);
    EXPECT_NE(handler_of(SIGTERM), term_before);
    bool hup_listed = false;
    for (const auto& d : pipe.child_signals()) {
      hup_listed |= d.sig == SIGHUP;
      if (d.sig == SIGTERM) {
        EXPECT_EQ(d.ignore, term_before == SIG_IGN);
      }
      if (d.sig == SIGPIPE) {
        EXPECT_EQ(d.ignore, pipe_before == SIG_IGN);
      }
    }
    EXPECT_FALSE(hup_listed);  // left alone: an ignored signal stays ignored through exec
    EXPECT_THROW(SignalPipe second, Error);
  }
  EXPECT_EQ(handler_of(SIGTERM), term_before);
  EXPECT_EQ(handler_of(SIGPIPE), pipe_before);
  EXPECT_EQ(handler_of(SIGHUP), SIG_IGN);
  signal(SIGHUP, SIG_DFL);
}

}  // namespace
}  // namespace ps
