#include "runtime/watchdog.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace ferry::runtime {
namespace {

constexpr uint64_t kMs = 1'000'000;

TEST(Watchdog, ReportsStuckQueueOnceAndRecovery) {
  uint64_t progress = 0;
  bool pending = true;
  Watchdog w(100 * kMs);
  w.add({"q0", [&] { return progress; }, [&] { return pending; }});
  EXPECT_TRUE(w.check(1 * kMs).empty());
  EXPECT_TRUE(w.check(50 * kMs).empty());
  auto ev = w.check(102 * kMs);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].name, "q0");
  EXPECT_TRUE(ev[0].stuck);
  EXPECT_EQ(w.stuck_count(), 1u);
  EXPECT_TRUE(w.check(300 * kMs).empty());  // reported once
  progress++;
  ev = w.check(310 * kMs);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(ev[0].stuck);
  EXPECT_EQ(w.stuck_count(), 0u);
}

TEST(Watchdog, IdleQueueIsNotStuck) {
  uint64_t progress = 0;
  Watchdog w(100 * kMs);
  w.add({"idle", [&] { return progress; }, [] { return false; }});
  for (uint64_t t = 1; t < 1000; t += 50)
    EXPECT_TRUE(w.check(t * kMs).empty());
}

TEST(Watchdog, MovingQueueIsNotStuck) {
  uint64_t progress = 0;
  Watchdog w(100 * kMs);
  w.add({"busy", [&] { return progress; }, [] { return true; }});
  for (uint64_t t = 1; t < 1000; t += 50) {
    progress++;
    EXPECT_TRUE(w.check(t * kMs).empty());
  }
}

TEST(Watchdog, ThreadReports) {
  std::atomic<int> reports{0};
  Watchdog w(20 * kMs);
  w.add({"stuck", [] { return uint64_t{7}; }, [] { return true; }});
  w.start(5, [&](const WatchdogEvent& e) {
    if (e.stuck) reports++;
  });
  for (int i = 0; i < 200 && reports.load() == 0; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  w.stop();
  EXPECT_EQ(reports.load(), 1);
}

}  // namespace
}  // namespace ferry::runtime
