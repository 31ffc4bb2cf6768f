#include "steer/flow_table.h"

#include <atomic>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include "proto/parser.h"

namespace ferry::steer {
namespace {

FlowKey key_of(uint32_t i) {
  FlowKey k{};
  k.ip_version = 4;
  k.ip_proto = IPPROTO_TCP;
  k.src[0] = 10;
  std::memcpy(k.src + 1, &i, 3);
  k.dst[0] = 192;
  k.src_port = static_cast<uint16_t>(i >> 24) + 1000;
  k.dst_port = 80;
  k.in_port = 1;
  return k;
}

TEST(FlowTable, InsertLookupErase) {
  Qsbr qsbr;
  FlowTable t(&qsbr, {.initial_entries = 64, .max_entries = 4096});
  for (uint32_t i = 0; i < 1000; i++)
    ASSERT_NE(t.insert(key_of(i), static_cast<uint16_t>(i % 7), i), nullptr);
  EXPECT_EQ(t.size(), 1000u);
  EXPECT_GT(t.stats().resizes, 0u);
  for (uint32_t i = 0; i < 1000; i++) {
    FlowEntry* e = t.lookup(key_of(i));
    ASSERT_NE(e, nullptr) << i;
    EXPECT_EQ(e->key, key_of(i));
    EXPECT_EQ(e->queue.load(), i % 7);
    EXPECT_EQ(e->last_seen.load(), i);
  }
  EXPECT_EQ(t.lookup(key_of(5000)), nullptr);
  // Insert of an existing key returns the existing entry.
  FlowEntry* e = t.lookup(key_of(3));
  EXPECT_EQ(t.insert(key_of(3), 99, 0), e);
  EXPECT_EQ(e->queue.load(), 3u);
  e->touch(100, 555);
  e->touch(50, 556);
  EXPECT_EQ(e->packets.load(), 2u);
  EXPECT_EQ(e->bytes.load(), 150u);
  EXPECT_EQ(e->last_seen.load(), 556u);
  // Keys differing only in VLAN or input port are different flows.
  FlowKey vlan = key_of(3);
  vlan.vlan_id = 10;
  FlowKey port = key_of(3);
  port.in_port = 2;
  EXPECT_EQ(t.lookup(vlan), nullptr);
  EXPECT_EQ(t.lookup(port), nullptr);

  for (uint32_t i = 0; i < 1000; i += 2)
    EXPECT_TRUE(t.erase(key_of(i)));
  EXPECT_FALSE(t.erase(key_of(0)));
  EXPECT_EQ(t.size(), 500u);
  for (uint32_t i = 0; i < 1000; i++)
    EXPECT_EQ(t.lookup(key_of(i)) != nullptr, i % 2 == 1) << i;
  EXPECT_EQ(t.stats().erases, 500u);
  // Erased entries are reused after a grace period.
  t.synchronize();
  for (uint32_t i = 0; i < 1000; i += 2)
    ASSERT_NE(t.insert(key_of(i), 1, 0), nullptr);
  EXPECT_EQ(t.size(), 1000u);
  std::vector<FlowEntry*> out(1000);
  std::vector<FlowKey> keys;
  for (uint32_t i = 0; i < 1000; i++)
    keys.push_back(key_of(i));
  t.lookup_burst(keys.data(), 1000, out.data());
  for (uint32_t i = 0; i < 1000; i++)
    EXPECT_EQ(out[i], t.lookup(keys[i]));
}

TEST(FlowTable, EvictsAtMaxSizeAndCountsIt) {
  Qsbr qsbr;
  FlowTable t(&qsbr, {.initial_entries = 16, .max_entries = 256});
  for (uint32_t i = 0; i < 2000; i++) {
    ASSERT_NE(t.insert(key_of(i), 0, i), nullptr) << i;
    ASSERT_LE(t.size(), 256u);
    if (i % 64 == 0) t.synchronize();
  }
  EXPECT_EQ(t.size(), 256u);
  EXPECT_EQ(t.stats().evictions, 2000u - 256u);
  EXPECT_EQ(t.stats().insert_failures, 0u);
  // The most recent flows are there; evictions took the least recently seen.
  int recent = 0;
  for (uint32_t i = 1900; i < 2000; i++)
    recent += t.lookup(key_of(i)) != nullptr;
  EXPECT_GT(recent, 80);
}

TEST(FlowTable, ExpiresIdleEntriesIncrementally) {
  Qsbr qsbr;
  FlowTable t(&qsbr, {.initial_entries = 1024, .max_entries = 1024});
  for (uint32_t i = 0; i < 600; i++)
    t.insert(key_of(i), 0, 1000);
  for (uint32_t i = 0; i < 600; i += 3)
    t.lookup(key_of(i))->touch(64, 5000);
  // Budgeted passes: each visits a slice of the table.
  uint32_t removed = 0;
  const size_t buckets = t.slot_count() / 8;
  for (size_t pass = 0; pass < buckets; pass += 16)
    removed += t.expire(6000, 2000, 16);
  EXPECT_EQ(removed, 400u);
  EXPECT_EQ(t.size(), 200u);
  EXPECT_EQ(t.stats().expirations, 400u);
  for (uint32_t i = 0; i < 600; i++)
    EXPECT_EQ(t.lookup(key_of(i)) != nullptr, i % 3 == 0);
  EXPECT_EQ(t.expire(6000, 2000), 0u);
  EXPECT_EQ(t.expire(100000, 2000), 200u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(FlowTable, HoldsAMillionFlows) {
  Qsbr qsbr;
  FlowTable t(&qsbr, {.initial_entries = 1024, .max_entries = 1u << 20});
  for (uint32_t i = 0; i < (1u << 20); i++)
    ASSERT_NE(t.insert(key_of(i), 0, 0), nullptr);
  EXPECT_EQ(t.size(), 1u << 20);
  EXPECT_EQ(t.stats().evictions, 0u);
  for (uint32_t i = 0; i < (1u << 20); i += 4099)
    EXPECT_NE(t.lookup(key_of(i)), nullptr);
  t.synchronize();
}

// A reader thread looks up flows while the writer inserts (growing the table several
// times), erases and re-inserts. Keys in the stable set must always be found; an entry the
// reader holds must keep its key until the reader's next quiescent state.
TEST(FlowTable, ConcurrentReadersDuringResizeAndErase) {
  Qsbr qsbr;
  FlowTable t(&qsbr, {.initial_entries = 16, .max_entries = 1u << 16});
  constexpr uint32_t kStable = 200;
  for (uint32_t i = 0; i < kStable; i++)
    t.insert(key_of(i), static_cast<uint16_t>(i), 100);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0}, misses{0}, torn{0};
  auto reader = [&] {
    const int id = qsbr.register_reader();
    ASSERT_GE(id, 0);
    std::mt19937 rng(id);
    while (!stop.load(std::memory_order_relaxed)) {
      for (int n = 0; n < 64; n++) {
        const uint32_t i = rng() % kStable;
        FlowEntry* e = t.lookup(key_of(i));
        if (e == nullptr) {
          misses++;
          continue;
        }
        if (!(e->key == key_of(i)) || e->queue.load(std::memory_order_relaxed) != i) torn++;
        e->touch(64, 100);
        // Churned keys: found or not, never a wrong entry.
        const uint32_t j = kStable + rng() % 20000;
        FlowEntry* f = t.lookup(key_of(j));
        if (f != nullptr && !(f->key == key_of(j))) torn++;
      }
      FlowKey burst[16];
      FlowEntry* found[16];
      for (uint32_t n = 0; n < 16; n++)
        burst[n] = key_of(rng() % kStable);
      t.lookup_burst(burst, 16, found);
      for (uint32_t n = 0; n < 16; n++) {
        if (found[n] == nullptr) {
          misses++;
        } else if (!(found[n]->key == burst[n])) {
          torn++;
        }
      }
      lookups += 128 + 16;
      qsbr.quiescent(id);
    }
    qsbr.unregister_reader(id);
  };
  std::thread r1(reader), r2(reader);
  std::mt19937 rng(3);
  for (int round = 0; round < 3; round++) {
    for (uint32_t i = kStable; i < kStable + 20000; i++)
      t.insert(key_of(i), 0, round);
    for (uint32_t i = kStable; i < kStable + 20000; i++) {
      if (rng() % 2) t.erase(key_of(i));
    }
    t.expire(10, 0);  // ages out everything not touched (last_seen < 10)
    t.reclaim();
  }
  stop = true;
  r1.join();
  r2.join();
  EXPECT_EQ(misses.load(), 0u);
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(lookups.load(), 0u);
  EXPECT_GT(t.stats().resizes, 5u);
  t.synchronize();
}

TEST(FlowTable, SynchronizeWaitsForOnlineReadersOnly) {
  Qsbr qsbr;
  const int a = qsbr.register_reader();
  const int b = qsbr.register_reader();
  const uint64_t token = qsbr.start_grace_period();
  EXPECT_FALSE(qsbr.grace_period_done(token));
  qsbr.quiescent(a);
  EXPECT_FALSE(qsbr.grace_period_done(token));
  qsbr.offline(b);
  EXPECT_TRUE(qsbr.grace_period_done(token));
  qsbr.online(b);
  EXPECT_TRUE(qsbr.grace_period_done(token));
  EXPECT_FALSE(qsbr.grace_period_done(qsbr.start_grace_period()));
  qsbr.unregister_reader(a);
  qsbr.unregister_reader(b);
}

TEST(FlowKey, FromParsedPacket) {
  const uint8_t frame[] = {0x02, 0,    0,    0,    0,    1,    0x02, 0,    0,  0,
                           0,    2,    0x81, 0x00, 0x00, 0x2a, 0x08, 0x00,  // VLAN 42
                           0x45, 0,    0,    40,   0,    1,    0,    0,    64, 6,
                           0,    0,    10,   0,    0,    1,    10,   0,    0,  2,  // IPv4 TCP
                           0x04, 0xd2, 0x00, 0x50, 0,    0,    0,    0,    0,  0,
                           0,    0,    0x50, 0x10, 0xff, 0xff, 0,    0,    0,  0};
  alignas(64) uint8_t buf[256];
  Packet p;
  p.init(buf, sizeof buf, 0, kNoPool);
  std::memcpy(p.append(sizeof frame), frame, sizeof frame);
  ASSERT_EQ(proto::parse_packet(p), proto::ParseError::kOk);
  p.set_in_port(3);
  FlowKey k;
  ASSERT_TRUE(flow_key_from_packet(p, &k));
  EXPECT_EQ(k.ip_version, 4);
  EXPECT_EQ(k.ip_proto, IPPROTO_TCP);
  EXPECT_EQ(k.src_port, 1234);
  EXPECT_EQ(k.dst_port, 80);
  EXPECT_EQ(k.vlan_id, 42);
  EXPECT_EQ(k.in_port, 3);
  EXPECT_EQ(k.src[3], 1);
  EXPECT_EQ(k.dst[3], 2);
  EXPECT_EQ(k.src[4], 0);
}

Packet* parsed(uint8_t* buf, size_t buf_len, Packet* p, const std::vector<uint8_t>& frame) {
  p->init(buf, static_cast<uint32_t>(buf_len), 0, kNoPool);
  std::memcpy(p->append(static_cast<uint32_t>(frame.size())), frame.data(), frame.size());
  EXPECT_EQ(proto::parse_packet(*p), proto::ParseError::kOk);
  return p;
}

// Every fragment of a datagram has the same key (no ports), first fragment included.
TEST(FlowKey, Ipv6FragmentsShareAKey) {
  auto frame = [](uint16_t frag_off, bool with_tcp) {
    std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd};
    const uint16_t payload = static_cast<uint16_t>(8 + 20);
    f.insert(f.end(), {0x60, 0, 0, 0, static_cast<uint8_t>(payload >> 8),
                       static_cast<uint8_t>(payload), IPPROTO_FRAGMENT, 64});
    for (int i = 0; i < 32; i++)
      f.push_back(static_cast<uint8_t>(i < 16 ? 0x20 + i : 0x40 + i));
    f.insert(f.end(), {IPPROTO_TCP, 0, static_cast<uint8_t>(frag_off >> 8),
                       static_cast<uint8_t>(frag_off | 1), 0, 0, 0, 9});
    if (with_tcp) {
      f.insert(f.end(), {0x04, 0xd2, 0x00, 0x50, 0,    0,    0, 0, 0, 0,
                         0,    0,    0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0});
    } else {
      f.insert(f.end(), 20, 0x77);
    }
    return f;
  };
  alignas(64) uint8_t b1[256], b2[256];
  Packet p1, p2;
  FlowKey k1, k2;
  ASSERT_TRUE(flow_key_from_packet(*parsed(b1, sizeof b1, &p1, frame(0, true)), &k1));
  ASSERT_TRUE(flow_key_from_packet(*parsed(b2, sizeof b2, &p2, frame(1480, false)), &k2));
  EXPECT_EQ(k1.ip_version, 6);
  EXPECT_EQ(k1.src_port, 0);
  EXPECT_EQ(k1, k2);
}

}  // namespace
}  // namespace ferry::steer
