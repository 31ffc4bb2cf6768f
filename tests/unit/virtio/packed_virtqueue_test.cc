#include "virtio/packed_virtqueue.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "test_memory.h"
#include "virtio/mergeable_rx.h"
#include "virtio/packed_virtqueue_driver.h"
#include "virtio/vring.h"

namespace ferry::virtio {
namespace {

using test::TestMemory;

struct Opts {
  uint16_t size = 16;
  bool event_idx = false;
  bool indirect = true;
  bool in_order = false;
  uint16_t start = 0;
  bool start_wrap = true;
};

struct PackedRig {
  explicit PackedRig(Opts o = {}) {
    uint64_t desc = m.alloc(PackedVirtqueue::desc_bytes(o.size), 16);
    uint64_t drv_ev = m.alloc(4, 4);
    uint64_t dev_ev = m.alloc(4, 4);
    uint64_t ind = m.alloc(PackedVirtqueueDriver::indirect_bytes(o.size), 16);
    PackedVirtqueueDriver::Options d;
    d.size = o.size;
    d.desc_gpa = desc;
    d.driver_event_gpa = drv_ev;
    d.device_event_gpa = dev_ev;
    d.indirect_gpa = ind;
    d.start_idx = o.start;
    d.start_wrap = o.start_wrap;
    d.event_idx = o.event_idx;
    d.in_order = o.in_order;
    drv = std::make_unique<PackedVirtqueueDriver>(m.mem, d);
    EXPECT_TRUE(drv->ok());
    PackedVirtqueueConfig cfg;
    std::string error;
    EXPECT_TRUE(PackedVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, o.size, desc,
                                          drv_ev, dev_ev, &cfg, &error))
        << error;
    PackedVirtqueue::apply_vring_base(o.start | (o.start_wrap ? 0x8000u : 0u), &cfg);
    cfg.indirect = o.indirect;
    cfg.event_idx = o.event_idx;
    cfg.in_order_batching = o.in_order;
    dev = std::make_unique<PackedVirtqueue>(&m.mem, cfg);
  }
  // Through pop(), or through pop_burst() and its path for one-descriptor chains.
  void expect_broken(QueueError reason, bool burst = false) {
    DescChain c;
    if (burst) {
      EXPECT_EQ(dev->pop_burst(&c, 1), 0);
      EXPECT_TRUE(dev->broken());
    } else {
      EXPECT_EQ(dev->pop(&c), PopStatus::kBroken);
    }
    EXPECT_EQ(dev->broken_reason(), reason) << dev->broken_detail();
    EXPECT_EQ(dev->errors()[reason], 1u);
    EXPECT_EQ(dev->pop(&c), PopStatus::kBroken);
  }
  // Completes n single-buffer chains and says whether the device would interrupt.
  bool complete(int n) {
    DriverBuffer b = {TestMemory::kBase + 0x90000, 64, true};
    for (int i = 0; i < n; i++)
      EXPECT_GE(drv->add_chain(&b, 1), 0);
    drv->publish();
    DescChain c;
    for (int i = 0; i < n; i++) {
      EXPECT_EQ(dev->pop(&c), PopStatus::kOk);
      dev->add_used(c, 1);
    }
    dev->flush();
    DriverUsed u;
    while (drv->get_used(&u)) {
    }
    return dev->needs_interrupt();
  }
  TestMemory m;
  std::unique_ptr<PackedVirtqueueDriver> drv;
  std::unique_ptr<PackedVirtqueue> dev;
};

TEST(PackedVirtqueue, TxChainAcrossBorder) {
  PackedRig r;
  DriverBuffer bufs[2] = {{TestMemory::kBase + 0x80000, 12, false},
                          {TestMemory::kBorder - 100, 300, false}};
  r.m.fill(bufs[1].gpa, 300, 9);
  int id = r.drv->add_chain(bufs, 2);
  ASSERT_GE(id, 0);
  r.drv->publish();
  DescChain c;
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  EXPECT_EQ(c.id, id);
  EXPECT_EQ(c.desc_count, 2);
  EXPECT_EQ(c.count, 3);
  EXPECT_EQ(c.readable_len, 312u);
  std::vector<uint8_t> got(300), want(300);
  EXPECT_EQ(copy_from_chain(c, 12, got.data(), 300), 300u);
  r.m.read(bufs[1].gpa, want.data(), 300);
  EXPECT_EQ(got, want);
  EXPECT_EQ(r.dev->pop(&c), PopStatus::kEmpty);
  r.dev->add_used(c, 0);
  DriverUsed u;
  EXPECT_FALSE(r.drv->get_used(&u));
  r.dev->flush();
  ASSERT_TRUE(r.drv->get_used(&u));
  EXPECT_EQ(u.id, id);
  EXPECT_EQ(r.drv->free_descs(), 16);
  EXPECT_EQ(r.drv->used_idx(), 2);
}

TEST(PackedVirtqueue, IndirectChain) {
  PackedRig r;
  DriverBuffer bufs[3] = {{TestMemory::kBase + 0x90000, 10, false},
                          {TestMemory::kBorder - 4, 8, false},
                          {TestMemory::kBase + 0x91000, 64, true}};
  int id = r.drv->add_chain(bufs, 3, true);
  ASSERT_GE(id, 0);
  r.drv->publish();
  DescChain c;
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  EXPECT_EQ(c.id, id);
  EXPECT_EQ(c.desc_count, 1);
  EXPECT_EQ(c.count, 4);
  EXPECT_EQ(c.writable_len, 64u);
  r.dev->add_used(c, 64);
  r.dev->flush();
  DriverUsed u;
  ASSERT_TRUE(r.drv->get_used(&u));
  EXPECT_EQ(u.len, 64u);
  EXPECT_EQ(r.drv->used_idx(), 1);
}

// A ring whose size is not a power of two, started near its end, run through many laps
// with chains of 1-3 descriptors completed out of order.
TEST(PackedVirtqueue, WrapCountersOutOfOrder) {
  for (uint16_t start : {uint16_t{0}, uint16_t{5}}) {
    PackedRig r({.size = 7, .start = start, .start_wrap = start == 0});
    uint64_t data = TestMemory::kBorder - 512;
    int done = 0;
    for (int iter = 0; iter < 500; iter++) {
      int n = 1 + iter % 3;
      int descs = 0;
      std::vector<int> ids;
      for (int i = 0; i < n && descs + (i % 3 + 1) <= 7; i++) {
        DriverBuffer b[3] = {{data, 16, false}, {data + 16, 16, false}, {data + 32, 16, true}};
        int len = i % 3 + 1;
        int id = r.drv->add_chain(b + (3 - len), static_cast<uint16_t>(len));
        ASSERT_GE(id, 0);
        ids.push_back(id);
        descs += len;
      }
      r.drv->publish();
      DescChain chains[8];
      uint16_t got = r.dev->pop_burst(chains, 8);
      ASSERT_EQ(got, ids.size());
      for (int i = got - 1; i >= 0; i--) {
        EXPECT_EQ(chains[i].id, ids[i]);
        r.dev->add_used(chains[i], static_cast<uint32_t>(chains[i].writable_len));
      }
      r.dev->flush();
      DriverUsed u;
      int seen = 0;
      while (r.drv->get_used(&u)) {
        EXPECT_EQ(u.id, ids[ids.size() - 1 - seen]);
        seen++;
      }
      ASSERT_EQ(seen, static_cast<int>(got));
      done += seen;
      ASSERT_EQ(r.drv->free_descs(), 7);
      ASSERT_EQ(r.dev->last_used_idx(), r.drv->used_idx());
      ASSERT_EQ(r.dev->used_wrap(), r.drv->used_wrap());
      ASSERT_EQ(r.dev->last_avail_idx(), r.drv->avail_idx());
      ASSERT_EQ(r.dev->avail_wrap(), r.drv->avail_wrap());
    }
    EXPECT_EQ(done, 999);
  }
}

TEST(PackedVirtqueue, VringBaseRoundTrip) {
  PackedRig r({.size = 7, .start = 5, .start_wrap = false});
  EXPECT_EQ(r.dev->vring_base(), 5u);
  r.complete(3);
  EXPECT_EQ(r.dev->vring_base(), 1u | 0x8000u);
}

TEST(PackedVirtqueue, InterruptSuppression) {
  PackedRig r;
  EXPECT_TRUE(r.complete(1));
  r.drv->set_interrupts(false);
  EXPECT_FALSE(r.complete(1));
  r.drv->set_interrupts(true);
  EXPECT_TRUE(r.complete(1));
}

TEST(PackedVirtqueue, InterruptWithEventIdx) {
  PackedRig r({.size = 8, .event_idx = true});
  EXPECT_TRUE(r.complete(1));  // used position 0 -> 1
  r.drv->set_interrupt_at(3, true);
  EXPECT_FALSE(r.complete(1));        // 1 -> 2
  EXPECT_TRUE(r.complete(2));         // 2 -> 4 crosses 3
  r.drv->set_interrupt_at(1, false);  // next lap
  EXPECT_FALSE(r.complete(3));        // 4 -> 7
  EXPECT_TRUE(r.complete(3));         // 7 -> 2 of the next lap crosses 1
}

TEST(PackedVirtqueue, KickSuppression) {
  PackedRig r;
  DriverBuffer b = {TestMemory::kBase + 0x90000, 64, true};
  r.drv->add_chain(&b, 1);
  EXPECT_TRUE(r.drv->publish());
  r.dev->set_kick_enabled(false);
  r.drv->add_chain(&b, 1);
  EXPECT_FALSE(r.drv->publish());
  EXPECT_TRUE(r.dev->enable_kick_and_recheck());
  r.drv->add_chain(&b, 1);
  EXPECT_TRUE(r.drv->publish());
}

TEST(PackedVirtqueue, KickSuppressionWithEventIdx) {
  PackedRig r({.size = 8, .event_idx = true});
  DriverBuffer b = {TestMemory::kBase + 0x90000, 64, true};
  DescChain c;
  r.dev->set_kick_enabled(true);  // descriptor event at 0
  r.drv->add_chain(&b, 1);
  EXPECT_TRUE(r.drv->publish());
  r.drv->add_chain(&b, 1);
  EXPECT_FALSE(r.drv->publish());
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  r.dev->flush();  // event at 2
  r.drv->add_chain(&b, 1);
  EXPECT_TRUE(r.drv->publish());
}

TEST(PackedVirtqueue, InOrderBatchOneUsedDescriptor) {
  PackedRig r({.size = 8, .in_order = true, .start = 6});
  DriverBuffer b[2] = {{TestMemory::kBase + 0x90000, 64, false},
                       {TestMemory::kBase + 0x91000, 64, false}};
  int last = -1;
  for (int i = 0; i < 3; i++)
    last = r.drv->add_chain(b, 2);  // 6 slots, wraps
  r.drv->publish();
  DescChain chains[4];
  ASSERT_EQ(r.dev->pop_burst(chains, 4), 3);
  for (int i = 0; i < 3; i++)
    r.dev->add_used(chains[i], 0);
  r.dev->flush();
  DriverUsed u;
  ASSERT_TRUE(r.drv->get_used(&u));
  EXPECT_EQ(u.id, last);
  EXPECT_EQ(u.chains, 3);
  EXPECT_FALSE(r.drv->get_used(&u));
  EXPECT_EQ(r.drv->free_descs(), 8);
  EXPECT_EQ(r.drv->used_idx(), 4);
  EXPECT_EQ(r.dev->last_used_idx(), 4);
  // The ring keeps working after the skip.
  EXPECT_TRUE(r.complete(2));
}

TEST(PackedVirtqueue, MergeableRx) {
  PackedRig r({.size = 8});
  for (int i = 0; i < 4; i++) {
    DriverBuffer b = {TestMemory::kBorder - 2000 + 1000u * i, 1000, true};
    r.drv->add_chain(&b, 1);
  }
  r.drv->publish();
  DescChain chains[8];
  RxGather g = gather_rx_buffers(*r.dev, 4500, chains, 8, true);
  EXPECT_EQ(g.status, RxGatherStatus::kNoBuffers);
  EXPECT_EQ(r.dev->last_avail_idx(), 0);
  g = gather_rx_buffers(*r.dev, 1500, chains, 8, true);
  ASSERT_EQ(g.status, RxGatherStatus::kOk);
  EXPECT_EQ(g.count, 2);
  g = gather_rx_buffers(*r.dev, 2500, chains + 2, 6, true);
  EXPECT_EQ(g.status, RxGatherStatus::kNoBuffers);  // only 2 chains left
  g = gather_rx_buffers(*r.dev, 2000, chains + 2, 6, true);
  EXPECT_EQ(g.status, RxGatherStatus::kOk);
  for (int i = 0; i < 4; i++)
    r.dev->add_used(chains[i], 1000);
  r.dev->flush();
  DriverUsed u;
  int n = 0;
  while (r.drv->get_used(&u))
    n++;
  EXPECT_EQ(n, 4);
}

TEST(PackedVirtqueue, RxChainReserveGivesBack) {
  PackedRig r({.size = 8});
  for (int i = 0; i < 4; i++) {
    DriverBuffer b = {TestMemory::kBorder - 2000 + 1000u * i, 1000, true};
    r.drv->add_chain(&b, 1);
  }
  r.drv->publish();
  std::vector<DescChain> chains(8);
  DescChain* first = nullptr;
  {
    RxChainReserve<PackedVirtqueue> reserve(*r.dev, chains.data());
    reserve.fill(4);
    RxGather g = reserve.gather(1500, 8, true, &first);
    ASSERT_EQ(g.status, RxGatherStatus::kOk);
    ASSERT_EQ(g.count, 2);
    for (int i = 0; i < 2; i++)
      r.dev->add_used(first[i], 1000);
  }  // the two chains left go back
  EXPECT_EQ(r.dev->last_avail_idx(), 2);
  RxGather g = gather_rx_buffers(*r.dev, 2000, chains.data(), 8, true);
  ASSERT_EQ(g.status, RxGatherStatus::kOk);
  EXPECT_EQ(g.count, 2);
  for (int i = 0; i < 2; i++)
    r.dev->add_used(chains[i], 1000);
  r.dev->flush();
  DriverUsed u;
  int n = 0;
  while (r.drv->get_used(&u))
    n++;
  EXPECT_EQ(n, 4);
}

TEST(PackedVirtqueue, DirtyLogging) {
  PackedRig r;
  std::vector<uint8_t> log((TestMemory::kEnd >> 12) / 8 + 1);
  r.m.mem.set_dirty_log(log.data(), log.size());
  auto dirty = [&](uint64_t gpa) { return (log[(gpa >> 12) / 8] >> ((gpa >> 12) % 8)) & 1; };
  DriverBuffer b = {TestMemory::kBorder + 0x3000, 100, true};
  r.drv->add_chain(&b, 1);
  r.drv->publish();
  DescChain c;
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  EXPECT_FALSE(dirty(TestMemory::kBase));
  r.dev->add_used(c, 10);
  r.dev->flush();
  EXPECT_TRUE(dirty(TestMemory::kBorder + 0x3000));
  EXPECT_FALSE(dirty(TestMemory::kBorder + 0x4000));
  EXPECT_TRUE(dirty(TestMemory::kBase));  // the descriptor ring
}

TEST(PackedVirtqueue, MapRingChecks) {
  TestMemory m;
  PackedVirtqueueConfig cfg;
  std::string error;
  uint64_t base = TestMemory::kBase;
  EXPECT_FALSE(PackedVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 0, base,
                                         base + 0x1000, base + 0x1004, &cfg, &error));
  EXPECT_FALSE(PackedVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 256,
                                         TestMemory::kEnd - 16, base + 0x1000, base + 0x1004, &cfg,
                                         &error));
  EXPECT_FALSE(PackedVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 256, base,
                                         base + 0x1002, base + 0x1004, &cfg, &error));
  EXPECT_TRUE(PackedVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 100, base,
                                        base + 0x1000, base + 0x1004, &cfg, &error));
  EXPECT_EQ(cfg.size, 100);
}

// --- hostile drivers ----------------------------------------------------------------------

constexpr uint16_t kNext = VRING_DESC_F_NEXT;
constexpr uint16_t kWrite = VRING_DESC_F_WRITE;
constexpr uint16_t kIndirect = VRING_DESC_F_INDIRECT;
constexpr uint64_t kData = TestMemory::kBase + 0x90000;

void write_table(TestMemory& m, uint64_t gpa,
                 std::initializer_list<std::tuple<uint64_t, uint32_t, uint16_t>> e) {
  uint64_t at = gpa;
  for (auto [addr, len, flags] : e) {
    uint8_t raw[16] = {};
    std::memcpy(raw, &addr, 8);
    std::memcpy(raw + 8, &len, 4);
    std::memcpy(raw + 14, &flags, 2);
    m.write(at, raw, 16);
    at += 16;
  }
}

TEST(PackedVirtqueue, IndirectTableAcrossRegionBorder) {
  PackedRig r;
  uint64_t table = TestMemory::kBorder - 16;
  write_table(r.m, table, {{kData, 8, 0}, {kData + 64, 16, kWrite}});
  r.drv->write_avail_desc(0, table, 32, 7, kIndirect, true);
  DescChain c;
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk) << r.dev->broken_detail();
  EXPECT_EQ(c.id, 7);
  EXPECT_EQ(c.count, 2);
  EXPECT_EQ(c.writable_len, 16u);
}

// Receive path with MRG_RXBUF: the header (num_buffers) goes in front of the frame in the
// first chain; the frame continues across the others.
TEST(PackedVirtqueue, MergeableRxWithHeader) {
  PackedRig r;
  for (int i = 0; i < 3; i++) {
    DriverBuffer b = {TestMemory::kBorder - 700 + 512u * i, 512, true};
    r.drv->add_chain(&b, 1);
  }
  r.drv->publish();
  std::vector<uint8_t> frame(1000);
  for (size_t i = 0; i < frame.size(); i++)
    frame[i] = static_cast<uint8_t>(i * 13);
  const uint64_t hdr_len = 12;
  DescChain chains[4];
  RxGather g = gather_rx_buffers(*r.dev, hdr_len + frame.size(), chains, 4, true);
  ASSERT_EQ(g.status, RxGatherStatus::kOk);
  ASSERT_EQ(g.count, 2);
  uint8_t hdr[12] = {};
  hdr[10] = static_cast<uint8_t>(g.count);  // num_buffers
  EXPECT_EQ(copy_to_chain(chains[0], 0, hdr, hdr_len), hdr_len);
  size_t first = chains[0].writable_len - hdr_len;
  EXPECT_EQ(copy_to_chain(chains[0], hdr_len, frame.data(), first), first);
  EXPECT_EQ(copy_to_chain(chains[1], 0, frame.data() + first, frame.size() - first),
            frame.size() - first);
  uint64_t left = hdr_len + frame.size();
  for (int i = 0; i < g.count; i++)
    r.dev->add_used(chains[i], rx_chain_fill(chains[i], &left));
  r.dev->flush();
  DriverUsed u[2];
  ASSERT_TRUE(r.drv->get_used(&u[0]));
  ASSERT_TRUE(r.drv->get_used(&u[1]));
  EXPECT_EQ(u[0].len, 512u);
  EXPECT_EQ(u[1].len, hdr_len + frame.size() - 512);
  std::vector<uint8_t> got(hdr_len + frame.size());
  r.m.read(TestMemory::kBorder - 700, got.data(), 512);
  r.m.read(TestMemory::kBorder - 700 + 512, got.data() + 512, got.size() - 512);
  EXPECT_EQ(got[10], 2);
  EXPECT_TRUE(std::equal(frame.begin(), frame.end(), got.begin() + hdr_len));
}

TEST(PackedVirtqueueHostile, IndirectNotNegotiated) {
  PackedRig r({.indirect = false});
  r.drv->write_avail_desc(0, kData, 32, 0, kIndirect, true);
  r.expect_broken(QueueError::kIndirectNotNegotiated);
}

TEST(PackedVirtqueueHostile, IndirectWithNext) {
  PackedRig r;
  r.drv->write_avail_desc(0, kData, 32, 0, kIndirect | kNext, true);
  r.expect_broken(QueueError::kIndirectWithNext);
}

TEST(PackedVirtqueueHostile, IndirectBadLength) {
  for (uint32_t len : {0u, 20u}) {
    PackedRig r;
    r.drv->write_avail_desc(0, kData, len, 0, kIndirect, true);
    r.expect_broken(QueueError::kIndirectBadLength);
  }
}

TEST(PackedVirtqueueHostile, IndirectNestedAndOutside) {
  {
    PackedRig r;
    uint64_t table = TestMemory::kBase + 0xa0000;
    write_table(r.m, table, {{kData, 8, 0}, {table, 32, kIndirect}});
    r.drv->write_avail_desc(0, table, 32, 0, kIndirect, true);
    r.expect_broken(QueueError::kIndirectNested);
  }
  {
    PackedRig r;
    r.drv->write_avail_desc(0, TestMemory::kEnd, 32, 0, kIndirect, true);
    r.expect_broken(QueueError::kIndirectOutOfMemory);
  }
  {
    PackedRig r;
    uint64_t table = TestMemory::kBase + 0xa0000;
    write_table(r.m, table, {{kData, 8, kWrite}, {kData, 8, 0}});
    r.drv->write_avail_desc(0, table, 32, 0, kIndirect, true);
    r.expect_broken(QueueError::kReadableAfterWritable);
  }
}

TEST(PackedVirtqueueHostile, ZeroLengthAndOutsideMemory) {
  for (bool burst : {false, true}) {
    {
      PackedRig r;
      r.drv->write_avail_desc(0, kData, 0, 0, 0, true);
      r.expect_broken(QueueError::kZeroLength, burst);
    }
    {
      PackedRig r;
      r.drv->write_avail_desc(0, TestMemory::kEnd - 8, 64, 0, 0, true);
      r.expect_broken(QueueError::kBufferOutOfMemory, burst);
    }
  }
}

TEST(PackedVirtqueueHostile, ReadableAfterWritable) {
  PackedRig r;
  r.drv->write_avail_desc(1, kData, 8, 0, 0, true);
  r.drv->write_avail_desc(0, kData, 8, 0, kWrite | kNext, true);
  r.expect_broken(QueueError::kReadableAfterWritable);
}

TEST(PackedVirtqueueHostile, ChainLongerThanRing) {
  PackedRig r({.size = 8});
  for (uint16_t i = 8; i > 0; i--)
    r.drv->write_avail_desc(i - 1, kData, 8, 0, kNext, true);
  r.expect_broken(QueueError::kChainTooLong);
}

TEST(PackedVirtqueueHostile, MoreAvailableThanRingHolds) {
  PackedRig r({.size = 8});
  DriverBuffer b = {kData, 64, true};
  for (int i = 0; i < 4; i++)
    r.drv->add_chain(&b, 1);
  DescChain c[4];
  ASSERT_EQ(r.dev->pop_burst(c, 4), 4);  // 4 slots in flight
  // A 5-descriptor chain needs slots the device still holds.
  r.drv->write_avail_desc(0, kData, 8, 0, 0, false);
  for (uint16_t i = 7; i >= 4; i--)
    r.drv->write_avail_desc(i, kData, 8, 0, kNext, true);
  r.expect_broken(QueueError::kAvailIdxJump);
}

// Every slot is held by the device, yet the driver marks one available again.
TEST(PackedVirtqueueHostile, SingleDescriptorWhileRingIsHeld) {
  PackedRig r({.size = 4});
  for (uint16_t i = 4; i > 0; i--)
    r.drv->write_avail_desc(i - 1, kData, 8, i, 0, true);
  DescChain c[4];
  ASSERT_EQ(r.dev->pop_burst(c, 4), 4);
  r.drv->write_avail_desc(0, kData, 8, 1, 0, false);  // the next lap's wrap counter
  r.expect_broken(QueueError::kAvailIdxJump, true);
}

// The driver re-offers slots before the device published their completions; the device
// publishes early instead of overrunning its batch of used descriptors.
TEST(PackedVirtqueueHostile, ReofferBeforeFlush) {
  PackedRig r({.size = 4});
  DescChain c[8];
  for (int lap = 0; lap < 2; lap++) {
    for (uint16_t i = 4; i > 0; i--)
      r.drv->write_avail_desc(i - 1, kData, 8, i, 0, lap == 0);
    ASSERT_EQ(r.dev->pop_burst(c + 4 * lap, 4), 4);
    for (int i = 0; i < 4; i++)
      r.dev->add_used(c[4 * lap + i], 0);
  }
  r.dev->flush();
  EXPECT_FALSE(r.dev->broken());
  EXPECT_EQ(r.dev->last_used_idx(), 0);
}

TEST(PackedVirtqueueHostile, TooManyBuffers) {
  PackedRig r({.size = 128});
  for (uint16_t i = 70; i > 0; i--) {
    r.drv->write_avail_desc(i - 1, kData, 4, 0, i < 70 ? kNext : 0, true);
  }
  r.expect_broken(QueueError::kTooManyBuffers);
}

}  // namespace
}  // namespace ferry::virtio
