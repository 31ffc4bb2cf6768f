#include "switch/fdb.h"

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ferry::sw {
namespace {

constexpr uint64_t kSec = 1000ull * 1000 * 1000;

MacAddress mac(uint64_t v) {
  return MacAddress::from_u64(v);
}

Fdb::Config small(uint32_t entries = 1024, uint32_t limit = 4096) {
  Fdb::Config c;
  c.max_entries = entries;
  c.port_learn_limit = limit;
  c.hash_seed = 12345;
  return c;
}

TEST(Fdb, LearnsAndLooksUp) {
  Fdb fdb(small());
  EXPECT_EQ(fdb.lookup(mac(0x020000000001), 1), kNoPort);
  EXPECT_EQ(fdb.learn(mac(0x020000000001), 1, 3, 0), LearnResult::kLearned);
  EXPECT_EQ(fdb.lookup(mac(0x020000000001), 1), 3);
  // Per VLAN: the same MAC in another VLAN is another entry.
  EXPECT_EQ(fdb.lookup(mac(0x020000000001), 2), kNoPort);
  EXPECT_EQ(fdb.learn(mac(0x020000000001), 1, 3, kSec), LearnResult::kRefreshed);
  EXPECT_EQ(fdb.size(), 1u);
  EXPECT_EQ(fdb.learned_on(3), 1u);
}

TEST(Fdb, NeverLearnsGroupOrZeroAddresses) {
  Fdb fdb(small());
  EXPECT_EQ(fdb.learn(mac(0x010000000001), 1, 3, 0), LearnResult::kInvalid);
  EXPECT_EQ(fdb.learn(proto::kBroadcastMac, 1, 3, 0), LearnResult::kInvalid);
  EXPECT_EQ(fdb.learn(mac(0), 1, 3, 0), LearnResult::kInvalid);
  EXPECT_EQ(fdb.learn(mac(0x020000000001), 1, kMaxPorts, 0), LearnResult::kInvalid);
  EXPECT_EQ(fdb.size(), 0u);
}

TEST(Fdb, AgesWithTheFakeClock) {
  Fdb fdb(small());
  fdb.learn(mac(0x020000000001), 1, 1, 0);
  fdb.learn(mac(0x020000000002), 1, 2, 100 * kSec);
  EXPECT_EQ(fdb.age(299 * kSec), 0u);
  // Refreshed at 200 s: lives until 500 s.
  fdb.learn(mac(0x020000000001), 1, 1, 200 * kSec);
  EXPECT_EQ(fdb.age(400 * kSec), 1u);  // ...02 last seen at 100 s
  EXPECT_EQ(fdb.lookup(mac(0x020000000002), 1), kNoPort);
  EXPECT_EQ(fdb.lookup(mac(0x020000000001), 1), 1);
  EXPECT_EQ(fdb.age(500 * kSec), 1u);
  EXPECT_EQ(fdb.size(), 0u);
  EXPECT_EQ(fdb.learned_on(1), 0u);
}

TEST(Fdb, AgeingTimeIsConfigurable) {
  Fdb fdb(small());
  EXPECT_EQ(fdb.ageing_ns(), 300 * kSec);
  fdb.set_ageing_ns(10 * kSec);
  fdb.learn(mac(0x020000000001), 1, 1, 0);
  EXPECT_EQ(fdb.age(9 * kSec), 0u);
  EXPECT_EQ(fdb.age(10 * kSec), 1u);
}

TEST(Fdb, StaticEntriesNeverAgeNorMove) {
  Fdb fdb(small());
  ASSERT_TRUE(fdb.add_static(mac(0x020000000009), 5, 7));
  EXPECT_EQ(fdb.lookup(mac(0x020000000009), 5), 7);
  EXPECT_EQ(fdb.age(1000000 * kSec), 0u);
  EXPECT_EQ(fdb.learn(mac(0x020000000009), 5, 8, 0), LearnResult::kStaticConflict);
  EXPECT_EQ(fdb.lookup(mac(0x020000000009), 5), 7);
  EXPECT_EQ(fdb.learn(mac(0x020000000009), 5, 7, 0), LearnResult::kRefreshed);
  // A static entry does not count against the port's learning quota.
  EXPECT_EQ(fdb.learned_on(7), 0u);
  // Replacing a learned entry by a static one.
  fdb.learn(mac(0x02000000000a), 5, 1, 0);
  EXPECT_EQ(fdb.learned_on(1), 1u);
  ASSERT_TRUE(fdb.add_static(mac(0x02000000000a), 5, 2));
  EXPECT_EQ(fdb.learned_on(1), 0u);
  EXPECT_EQ(fdb.lookup(mac(0x02000000000a), 5), 2);
  EXPECT_TRUE(fdb.remove(mac(0x02000000000a), 5));
  EXPECT_FALSE(fdb.remove(mac(0x02000000000a), 5));
  EXPECT_EQ(fdb.size(), 1u);
}

TEST(Fdb, MoveDetection) {
  Fdb fdb(small());
  fdb.learn(mac(0x020000000001), 1, 1, 0);
  EXPECT_EQ(fdb.learn(mac(0x020000000001), 1, 2, kSec), LearnResult::kMoved);
  EXPECT_EQ(fdb.lookup(mac(0x020000000001), 1), 2);
  EXPECT_EQ(fdb.learned_on(1), 0u);
  EXPECT_EQ(fdb.learned_on(2), 1u);
  EXPECT_EQ(fdb.size(), 1u);
}

TEST(Fdb, PerPortLearningLimitProtectsTheTable) {
  Fdb fdb(small(1024, 16));
  std::mt19937_64 rng(1);
  uint32_t learned = 0, limited = 0;
  // A hostile port floods 10000 random source MACs.
  for (int i = 0; i < 10000; i++) {
    uint64_t m = (rng() & 0xfeffffffffffull) | 0x020000000000ull;
    LearnResult r = fdb.learn(mac(m), 1, 9, 0);
    learned += r == LearnResult::kLearned;
    limited += r == LearnResult::kPortLimit;
  }
  EXPECT_EQ(learned, 16u);
  EXPECT_EQ(limited, 10000u - 16u);
  EXPECT_EQ(fdb.learned_on(9), 16u);
  // Other ports still learn.
  EXPECT_EQ(fdb.learn(mac(0x020000000001), 1, 1, 0), LearnResult::kLearned);
  // Limit 0 turns learning off for a port.
  fdb.set_port_limit(2, 0);
  EXPECT_EQ(fdb.learn(mac(0x020000000002), 1, 2, 0), LearnResult::kPortLimit);
  // Moving onto a port at its limit is refused too.
  EXPECT_EQ(fdb.learn(mac(0x020000000001), 1, 9, 0), LearnResult::kPortLimit);
  EXPECT_EQ(fdb.lookup(mac(0x020000000001), 1), 1);
}

TEST(Fdb, TableFullIsBounded) {
  Fdb fdb(small(100, 1000));
  uint32_t learned = 0, full = 0;
  for (uint64_t i = 1; i <= 300; i++) {
    LearnResult r = fdb.learn(mac(0x020000000000ull + i), 1, static_cast<uint16_t>(i % 4), 0);
    learned += r == LearnResult::kLearned;
    full += r == LearnResult::kTableFull;
  }
  EXPECT_EQ(learned, 100u);
  EXPECT_EQ(full, 200u);
  EXPECT_EQ(fdb.size(), 100u);
  EXPECT_FALSE(fdb.add_static(mac(0x02000000ffff), 1, 1));
  fdb.age(kDefaultAgeingNs);
  EXPECT_EQ(fdb.size(), 0u);
}

TEST(Fdb, SixtyFourThousandEntriesFit) {
  Fdb fdb(small(65536, 65536));
  std::mt19937_64 rng(7);
  std::vector<uint64_t> macs;
  for (int i = 0; i < 65536; i++) {
    uint64_t m = (rng() & 0xfeffffffffffull) | 0x020000000000ull;
    if (fdb.learn(mac(m), 1, static_cast<uint16_t>(i % 200), 0) == LearnResult::kLearned)
      macs.push_back(m);
  }
  // Random MACs may collide; all distinct ones must fit (two choices, half-full buckets).
  EXPECT_GT(macs.size(), 65500u);
  EXPECT_EQ(fdb.size(), macs.size());
  for (size_t i = 0; i < macs.size(); i++)
    ASSERT_NE(fdb.lookup(mac(macs[i]), 1), kNoPort);
}

TEST(Fdb, FlushPortAndVlan) {
  Fdb fdb(small());
  fdb.learn(mac(0x020000000001), 1, 1, 0);
  fdb.learn(mac(0x020000000002), 2, 1, 0);
  fdb.learn(mac(0x020000000003), 2, 2, 0);
  fdb.add_static(mac(0x020000000004), 1, 1);
  EXPECT_EQ(fdb.flush_vlan(2), 2u);
  EXPECT_EQ(fdb.flush_port(1), 1u);
  EXPECT_EQ(fdb.size(), 1u);
  EXPECT_EQ(fdb.flush_port(1, true), 1u);
  EXPECT_EQ(fdb.size(), 0u);
}

TEST(Fdb, ForEachListsEntries) {
  Fdb fdb(small());
  fdb.learn(mac(0x020000000001), 3, 1, 5 * kSec);
  fdb.add_static(mac(0x020000000002), 4, 2);
  int n = 0;
  fdb.for_each([&](const FdbEntry& e) {
    n++;
    if (e.is_static) {
      EXPECT_EQ(e.mac, mac(0x020000000002));
      EXPECT_EQ(e.vid, 4);
      EXPECT_EQ(e.port, 2);
    } else {
      EXPECT_EQ(e.mac, mac(0x020000000001));
      EXPECT_EQ(e.vid, 3);
      EXPECT_EQ(e.port, 1);
      EXPECT_EQ(e.last_seen_ns, 5 * kSec);
    }
  });
  EXPECT_EQ(n, 2);
}

// Readers never see the port of another address while writers learn, move, age and the
// control plane changes static entries.
TEST(Fdb, ConcurrentReadersSeeConsistentEntries) {
  Fdb fdb(small(4096, 4096));
  // Address i always lives on port i % 8 or (static) on port 100 + i % 8.
  auto valid = [](uint64_t i, uint16_t port) {
    return port == kNoPort || port == i % 8 || port == 100 + i % 8 || port == (i + 1) % 8;
  };
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, hits{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; r++) {
    threads.emplace_back([&, r] {
      uint64_t i = r;
      while (!stop.load(std::memory_order_relaxed)) {
        i = (i + 7) % 2000;
        uint16_t p = fdb.lookup(mac(0x020000000000ull + i), 1);
        if (!valid(i, p)) bad++;
        if (p != kNoPort) hits++;
      }
    });
  }
  threads.emplace_back([&] {  // two learning "workers" interleaved in one thread
    for (int round = 0; round < 200; round++) {
      for (uint64_t i = 0; i < 2000; i++) {
        uint16_t port = static_cast<uint16_t>((round & 1) ? (i + 1) % 8 : i % 8);
        fdb.learn(mac(0x020000000000ull + i), 1, port, uint64_t(round) * kSec);
      }
      fdb.age(uint64_t(round) * kSec + kDefaultAgeingNs / 2);
      if (round % 10 == 0) fdb.flush_vlan(1);
    }
  });
  threads.emplace_back([&] {  // control plane
    for (int round = 0; round < 2000; round++) {
      uint64_t i = static_cast<uint64_t>(round) % 2000;
      fdb.add_static(mac(0x020000000000ull + i), 1, static_cast<uint16_t>(100 + i % 8));
      fdb.remove(mac(0x020000000000ull + i), 1);
    }
  });
  threads[2].join();
  threads[3].join();
  stop = true;
  threads[0].join();
  threads[1].join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
}

}  // namespace
}  // namespace ferry::sw
