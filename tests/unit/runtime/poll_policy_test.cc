#include "runtime/poll_policy.h"

#include <gtest/gtest.h>

namespace ferry::runtime {
namespace {

TEST(PollPolicy, SpinsWhileBusyThenBacksOffToSleep) {
  PollPolicyConfig c;
  c.spin_polls = 10;
  c.min_sleep_us = 20;
  c.max_sleep_us = 100;
  PollPolicy p(c);
  EXPECT_EQ(p.next(5, false), PollAction::kPoll);
  for (int i = 0; i < 10; i++)
    EXPECT_EQ(p.next(0, false), PollAction::kPoll);
  EXPECT_EQ(p.next(0, false), PollAction::kSleep);
  EXPECT_EQ(p.sleep_us(), 20u);
  EXPECT_EQ(p.next(0, false), PollAction::kSleep);
  EXPECT_EQ(p.sleep_us(), 40u);
  p.next(0, false);
  p.next(0, false);
  EXPECT_EQ(p.sleep_us(), 100u);  // capped
  // Work resets the backoff.
  EXPECT_EQ(p.next(1, false), PollAction::kPoll);
  EXPECT_EQ(p.idle_polls(), 0u);
  EXPECT_EQ(p.sleep_us(), 0u);
}

TEST(PollPolicy, OvercommitYieldsAndSleepsSooner) {
  PollPolicyConfig c;
  c.spin_polls = 1000;
  c.overcommit_spin_polls = 3;
  PollPolicy p(c);
  for (int i = 0; i < 3; i++)
    EXPECT_EQ(p.next(0, true), PollAction::kYield);
  EXPECT_EQ(p.next(0, true), PollAction::kSleep);
  EXPECT_EQ(p.yields, 3u);
  // Busy: no yield even when overcommitted (the work is there, do it).
  EXPECT_EQ(p.next(64, true), PollAction::kPoll);
}

TEST(OvercommitDetector, ParsesLoadavg) {
  EXPECT_EQ(OvercommitDetector::parse_runnable("0.52 0.58 0.59 3/467 12345\n"), 3u);
  EXPECT_EQ(OvercommitDetector::parse_runnable("13.13 13.77 11.59 15/177 18767"), 15u);
  EXPECT_EQ(OvercommitDetector::parse_runnable("garbage"), 0u);
  EXPECT_EQ(OvercommitDetector::parse_runnable("1 2 3 x/4 5"), 0u);
}

TEST(OvercommitDetector, RunQueueOrPreemption) {
  OvercommitDetector d(2);
  d.feed(2, 0);
  EXPECT_FALSE(d.overcommitted());
  d.feed(5, 0);  // more runnable threads than CPUs
  EXPECT_TRUE(d.overcommitted());
  d.feed(1, 0);
  EXPECT_FALSE(d.overcommitted());
  d.feed(1, 500);  // the worker keeps being preempted
  EXPECT_TRUE(d.overcommitted());
}

TEST(OvercommitDetector, SamplesTheSystem) {
  OvercommitDetector d;
  d.sample(1);
  EXPECT_GE(d.cpus(), 1u);  // reads /proc/loadavg and getrusage without failing
}

}  // namespace
}  // namespace ferry::runtime
