// Dql against the behaviour of Linux's lib/dynamic_queue_limits.c, step by step.

#include "runtime/dql.h"

#include <gtest/gtest.h>

namespace ferry::runtime {
namespace {

TEST(Dql, StartsEmptyWithZeroLimit) {
  Dql d(1000, 0);
  EXPECT_EQ(d.limit(), 0u);
  EXPECT_EQ(d.available(), 0);
  EXPECT_FALSE(d.stopped());
}

TEST(Dql, StarvationGrowsTheLimitByWhatCompleted) {
  Dql d(1000, 0);
  d.queued(1500);
  EXPECT_EQ(d.available(), -1500);
  EXPECT_TRUE(d.stopped());
  // Over the limit and now empty: starved, the limit grows by the completed bytes.
  d.completed(1500, 0);
  EXPECT_EQ(d.limit(), 1500u);
  EXPECT_EQ(d.available(), 1500);
  d.queued(1500);
  d.queued(1500);
  EXPECT_TRUE(d.stopped());
  d.completed(3000, 0);
  // Grows by what completed beyond the previous interval (3000) plus its overshoot (0).
  EXPECT_EQ(d.limit(), 4500u);
  EXPECT_EQ(d.in_flight(), 0u);
}

TEST(Dql, SlackShrinksTheLimitAfterTheHoldTime) {
  Dql d(1000, 0);
  d.queued(1500);
  d.completed(1500, 0);
  d.queued(1500);
  d.queued(1500);
  d.completed(3000, 0);
  ASSERT_EQ(d.limit(), 4500u);
  // Steady state: 2000 bytes in flight, 1000 complete per interval.
  d.queued(1000);
  d.queued(1000);
  d.queued(1000);
  d.completed(1000, 10);  // no previous interval in progress: nothing measured
  EXPECT_EQ(d.limit(), 4500u);
  d.queued(1000);
  d.completed(1000, 500);  // slack 4500 - 2*1000 = 2500 measured, hold time not over
  EXPECT_EQ(d.limit(), 4500u);
  d.queued(1000);
  d.completed(1000, 2000);  // hold time over: the lowest slack comes off
  EXPECT_EQ(d.limit(), 2000u);
  EXPECT_EQ(d.in_flight(), 2000u);
}

TEST(Dql, LimitIsClamped) {
  Dql d(1000, 0);
  d.set_max_limit(2000);
  d.queued(5000);
  d.completed(5000, 0);
  EXPECT_EQ(d.limit(), 2000u);
  d.set_min_limit(3000);
  d.reset(0);
  EXPECT_EQ(d.limit(), 3000u);
  EXPECT_EQ(d.available(), 3000);
}

TEST(Dql, OverCompletionIsClamped) {
  Dql d(1000, 0);
  d.queued(100);
  d.completed(1000, 0);  // more than in flight: treated as 100
  EXPECT_EQ(d.in_flight(), 0u);
  EXPECT_EQ(d.limit(), 100u);
}

TEST(Dql, CountersWrapAround) {
  Dql d(1000, 0);
  // Push the free-running counters across 2^32.
  for (int i = 0; i < 5000; i++) {
    d.queued(1'000'000);
    d.completed(1'000'000, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(d.in_flight(), 0u);
  EXPECT_GE(d.available(), 0);
  EXPECT_LE(d.limit(), Dql::kMaxLimit);
}

}  // namespace
}  // namespace ferry::runtime
