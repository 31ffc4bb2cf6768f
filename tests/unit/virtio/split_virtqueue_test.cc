#include "virtio/split_virtqueue.h"

#include <cstring>
#include <initializer_list>
#include <memory>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "test_memory.h"
#include "virtio/mergeable_rx.h"
#include "virtio/split_virtqueue_driver.h"
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
};

struct SplitRig {
  explicit SplitRig(Opts o = {}) {
    uint64_t desc = m.alloc(SplitVirtqueue::desc_bytes(o.size), 16);
    uint64_t avail = m.alloc(SplitVirtqueue::avail_bytes(o.size), 2);
    uint64_t used = m.alloc(SplitVirtqueue::used_bytes(o.size), 4);
    uint64_t ind = m.alloc(SplitVirtqueueDriver::indirect_bytes(o.size), 16);
    SplitVirtqueueDriver::Options d;
    d.size = o.size;
    d.desc_gpa = desc;
    d.avail_gpa = avail;
    d.used_gpa = used;
    d.indirect_gpa = ind;
    d.start_idx = o.start;
    d.event_idx = o.event_idx;
    d.in_order = o.in_order;
    drv = std::make_unique<SplitVirtqueueDriver>(m.mem, d);
    EXPECT_TRUE(drv->ok());
    SplitVirtqueueConfig cfg;
    std::string error;
    EXPECT_TRUE(SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, o.size, desc,
                                         avail, used, &cfg, &error))
        << error;
    cfg.last_avail_idx = o.start;
    cfg.used_idx = o.start;
    cfg.indirect = o.indirect;
    cfg.event_idx = o.event_idx;
    cfg.in_order_batching = o.in_order;
    dev = std::make_unique<SplitVirtqueue>(&m.mem, cfg);
  }
  // burst: through pop_burst(), which reads the avail ring ahead of the pops.
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
    EXPECT_EQ(dev->pop(&c), PopStatus::kBroken);  // stays broken
    EXPECT_NE(std::string(dev->broken_detail()).find(to_string(reason)), std::string::npos);
  }
  TestMemory m;
  std::unique_ptr<SplitVirtqueueDriver> drv;
  std::unique_ptr<SplitVirtqueue> dev;
};

TEST(SplitVirtqueue, TxChainAcrossRegionBorder) {
  SplitRig r;
  DriverBuffer bufs[2] = {{TestMemory::kBase + 0x80000, 12, false},
                          {TestMemory::kBorder - 100, 300, false}};
  r.m.fill(bufs[0].gpa, 12, 1);
  r.m.fill(bufs[1].gpa, 300, 50);
  int head = r.drv->add_chain(bufs, 2);
  ASSERT_GE(head, 0);
  r.drv->publish();

  DescChain c;
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  EXPECT_EQ(c.id, head);
  EXPECT_EQ(c.desc_count, 2);
  ASSERT_EQ(c.count, 3);  // the second buffer is split at the region border
  EXPECT_EQ(c.buffers[1].len, 100u);
  EXPECT_EQ(c.buffers[2].len, 200u);
  EXPECT_EQ(c.buffers[2].gpa, TestMemory::kBorder);
  EXPECT_EQ(c.readable_len, 312u);
  EXPECT_EQ(c.writable_len, 0u);
  EXPECT_EQ(c.first_writable, 3);
  std::vector<uint8_t> got(312), want(312);
  EXPECT_EQ(copy_from_chain(c, 0, got.data(), 312), 312u);
  r.m.read(bufs[0].gpa, want.data(), 12);
  r.m.read(bufs[1].gpa, want.data() + 12, 300);
  EXPECT_EQ(got, want);
  EXPECT_EQ(r.dev->pop(&c), PopStatus::kEmpty);

  r.dev->add_used(c, 0);
  DriverUsed u;
  EXPECT_FALSE(r.drv->get_used(&u));  // not before flush
  r.dev->flush();
  ASSERT_TRUE(r.drv->get_used(&u));
  EXPECT_EQ(u.id, head);
  EXPECT_EQ(u.len, 0u);
  EXPECT_EQ(u.chains, 1);
  EXPECT_EQ(r.drv->free_descs(), 16);
}

TEST(SplitVirtqueue, RxWritesAcrossBorder) {
  SplitRig r;
  DriverBuffer buf = {TestMemory::kBorder - 10, 100, true};
  ASSERT_GE(r.drv->add_chain(&buf, 1), 0);
  r.drv->publish();
  DescChain c;
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  EXPECT_EQ(c.first_writable, 0);
  EXPECT_EQ(c.writable_len, 100u);
  std::vector<uint8_t> data(60);
  for (size_t i = 0; i < data.size(); i++)
    data[i] = static_cast<uint8_t>(i + 1);
  EXPECT_EQ(copy_to_chain(c, 0, data.data(), data.size()), data.size());
  r.dev->add_used(c, 60);
  r.dev->flush();
  DriverUsed u;
  ASSERT_TRUE(r.drv->get_used(&u));
  EXPECT_EQ(u.len, 60u);
  std::vector<uint8_t> back(60);
  r.m.read(buf.gpa, back.data(), 60);
  EXPECT_EQ(back, data);
}

TEST(SplitVirtqueue, IndirectChain) {
  SplitRig r;
  DriverBuffer bufs[3] = {{TestMemory::kBase + 0x90000, 10, false},
                          {TestMemory::kBorder - 4, 8, false},
                          {TestMemory::kBase + 0x91000, 64, true}};
  int head = r.drv->add_chain(bufs, 3, true);
  ASSERT_GE(head, 0);
  EXPECT_EQ(r.drv->free_descs(), 15);
  r.drv->publish();
  DescChain c;
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  EXPECT_EQ(c.desc_count, 1);
  EXPECT_EQ(c.count, 4);
  EXPECT_EQ(c.readable_len, 18u);
  EXPECT_EQ(c.writable_len, 64u);
  EXPECT_EQ(c.first_writable, 3);
}

// Indices start near 65535 and run past it many times; a small ring wraps constantly.
TEST(SplitVirtqueue, IndexWrapAround) {
  for (bool event_idx : {false, true}) {
    SplitRig r({.size = 8, .event_idx = event_idx, .start = 65530});
    uint64_t data = TestMemory::kBorder - 2048;
    int round_trips = 0;
    for (int iter = 0; iter < 300; iter++) {
      int n = 1 + iter % 4;  // up to 4 two-descriptor chains fill the ring
      for (int i = 0; i < n; i++) {
        DriverBuffer b[2] = {{data + 64u * i, 32, false}, {data + 64u * i + 32, 32, true}};
        ASSERT_GE(r.drv->add_chain(b, 2), 0);
      }
      r.drv->publish();
      DescChain chains[8];
      ASSERT_EQ(r.dev->pop_burst(chains, 8), n);
      for (int i = 0; i < n; i++)
        r.dev->add_used(chains[i], 16);
      r.dev->flush();
      DriverUsed u;
      while (r.drv->get_used(&u)) {
        EXPECT_EQ(u.len, 16u);
        round_trips++;
      }
      ASSERT_EQ(r.drv->free_descs(), 8);
    }
    EXPECT_EQ(round_trips, 750);
    EXPECT_EQ(r.dev->last_avail_idx(), static_cast<uint16_t>(65530 + 750));
    EXPECT_EQ(r.dev->used_idx(), r.drv->last_used_idx());
  }
}

TEST(SplitVirtqueue, InterruptSuppressionWithoutEventIdx) {
  SplitRig r;
  DriverBuffer b = {TestMemory::kBase + 0x90000, 64, true};
  DescChain c;
  r.drv->add_chain(&b, 1);
  r.drv->publish();
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  r.dev->add_used(c, 1);
  r.dev->flush();
  EXPECT_TRUE(r.dev->needs_interrupt());
  EXPECT_FALSE(r.dev->needs_interrupt());  // nothing new since

  r.drv->set_interrupts(false);
  r.drv->add_chain(&b, 1);
  r.drv->publish();
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  r.dev->add_used(c, 1);
  r.dev->flush();
  EXPECT_FALSE(r.dev->needs_interrupt());
  EXPECT_EQ(r.dev->notify_policy().interrupts(), 1u);
  EXPECT_EQ(r.dev->notify_policy().suppressed(), 1u);
}

TEST(SplitVirtqueue, InterruptWithEventIdx) {
  SplitRig r({.size = 16, .event_idx = true, .start = 65534});
  DriverBuffer b = {TestMemory::kBase + 0x90000, 64, true};
  DescChain c;
  auto complete = [&](int n) {
    for (int i = 0; i < n; i++)
      r.drv->add_chain(&b, 1);
    r.drv->publish();
    for (int i = 0; i < n; i++) {
      EXPECT_EQ(r.dev->pop(&c), PopStatus::kOk);
      r.dev->add_used(c, 1);
    }
    r.dev->flush();
    DriverUsed u;
    while (r.drv->get_used(&u)) {
    }
    return r.dev->needs_interrupt();
  };
  // The first decision always interrupts (no previous signal to compare with).
  EXPECT_TRUE(complete(1));  // used idx 65534 -> 65535
  // Driver wants an interrupt once entry 65535+2 = 1 is used.
  r.drv->set_used_event(1);
  EXPECT_FALSE(complete(1));  // 65535 -> 0: entry 65535 used, event 1 not reached
  EXPECT_TRUE(complete(2));   // 0 -> 2: crosses 1
  EXPECT_FALSE(complete(3));  // 2 -> 5: event 1 already passed
  r.drv->set_used_event(5);
  EXPECT_TRUE(complete(1));  // 5 -> 6 uses entry 5
}

TEST(SplitVirtqueue, InterruptCoalescing) {
  SplitRig r;
  r.dev->notify_policy().set_coalescing(3);
  DriverBuffer b = {TestMemory::kBase + 0x90000, 64, true};
  DescChain c;
  auto complete = [&] {
    r.drv->add_chain(&b, 1);
    r.drv->publish();
    EXPECT_EQ(r.dev->pop(&c), PopStatus::kOk);
    r.dev->add_used(c, 1);
    r.dev->flush();
    DriverUsed u;
    while (r.drv->get_used(&u)) {
    }
    return r.dev->needs_interrupt();
  };
  EXPECT_FALSE(complete());
  EXPECT_FALSE(complete());
  EXPECT_TRUE(r.dev->notify_policy().interrupt_pending());
  EXPECT_TRUE(complete());  // the third frame
  EXPECT_FALSE(r.dev->notify_policy().interrupt_pending());
  EXPECT_FALSE(complete());
  r.dev->notify_policy().force();  // the coalescing timer fired
  EXPECT_TRUE(r.dev->needs_interrupt());
}

TEST(SplitVirtqueue, FullRing) {
  SplitRig r({.size = 8, .start = 65533});
  DriverBuffer b = {TestMemory::kBase + 0x90000, 64, false};
  for (int i = 0; i < 8; i++)
    ASSERT_GE(r.drv->add_chain(&b, 1), 0);
  EXPECT_LT(r.drv->add_chain(&b, 1), 0);
  r.drv->publish();
  DescChain chains[9];
  EXPECT_EQ(r.dev->pop_burst(chains, 9), 8);
  EXPECT_FALSE(r.dev->broken());
  for (int i = 7; i >= 0; i--)
    r.dev->add_used(chains[i], 0);  // out of order
  r.dev->flush();
  DriverUsed u;
  for (int i = 7; i >= 0; i--) {
    ASSERT_TRUE(r.drv->get_used(&u));
    EXPECT_EQ(u.id, chains[i].id);
  }
  EXPECT_EQ(r.drv->free_descs(), 8);
}

TEST(SplitVirtqueue, KickSuppression) {
  SplitRig r;
  DriverBuffer b = {TestMemory::kBase + 0x90000, 64, true};
  r.drv->add_chain(&b, 1);
  EXPECT_TRUE(r.drv->publish());  // kicks are on by default
  r.dev->set_kick_enabled(false);
  r.drv->add_chain(&b, 1);
  EXPECT_FALSE(r.drv->publish());
  EXPECT_TRUE(r.dev->enable_kick_and_recheck());  // chains are waiting: poll again
  r.drv->add_chain(&b, 1);
  EXPECT_TRUE(r.drv->publish());
}

TEST(SplitVirtqueue, KickSuppressionWithEventIdx) {
  SplitRig r({.size = 16, .event_idx = true});
  DriverBuffer b = {TestMemory::kBase + 0x90000, 64, true};
  DescChain c;
  r.dev->set_kick_enabled(true);  // avail_event = 0: kick for entry 0
  r.drv->add_chain(&b, 1);
  EXPECT_TRUE(r.drv->publish());
  r.drv->add_chain(&b, 1);
  EXPECT_FALSE(r.drv->publish());  // the device has not caught up: no kick needed
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  r.dev->flush();  // publishes avail_event = 2
  r.drv->add_chain(&b, 1);
  EXPECT_TRUE(r.drv->publish());
  r.dev->set_kick_enabled(false);
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  r.dev->flush();  // kicks off: avail_event stays at 2
  r.drv->add_chain(&b, 1);
  EXPECT_FALSE(r.drv->publish());
}

TEST(SplitVirtqueue, InOrderBatchOneUsedEntry) {
  SplitRig r({.size = 16, .in_order = true, .start = 65533});
  DriverBuffer b = {TestMemory::kBase + 0x90000, 64, false};
  int last = -1;
  for (int i = 0; i < 5; i++)
    last = r.drv->add_chain(&b, 1);
  r.drv->publish();
  DescChain chains[8];
  ASSERT_EQ(r.dev->pop_burst(chains, 8), 5);
  for (int i = 0; i < 5; i++)
    EXPECT_EQ(chains[i].id, i);  // ring order from 0
  for (int i = 0; i < 5; i++)
    r.dev->add_used(chains[i], 0);
  r.dev->flush();
  EXPECT_EQ(r.dev->used_idx(), static_cast<uint16_t>(65534));  // one entry
  DriverUsed u;
  ASSERT_TRUE(r.drv->get_used(&u));
  EXPECT_EQ(u.id, last);
  EXPECT_EQ(u.chains, 5);
  EXPECT_FALSE(r.drv->get_used(&u));
  EXPECT_EQ(r.drv->free_descs(), 16);
  // The next batch continues in ring order.
  for (int i = 0; i < 3; i++)
    r.drv->add_chain(&b, 1);
  r.drv->publish();
  ASSERT_EQ(r.dev->pop_burst(chains, 8), 3);
  EXPECT_EQ(chains[0].id, 5);
}

TEST(SplitVirtqueue, MergeableRxGathersAndRewinds) {
  SplitRig r;
  for (int i = 0; i < 3; i++) {
    DriverBuffer b = {TestMemory::kBorder - 1500 + 1000u * i, 1000, true};
    r.drv->add_chain(&b, 1);
  }
  r.drv->publish();
  DescChain chains[8];
  RxGather g = gather_rx_buffers(*r.dev, 3500, chains, 8, true);
  EXPECT_EQ(g.status, RxGatherStatus::kNoBuffers);  // 3000 bytes available
  EXPECT_EQ(r.dev->last_avail_idx(), 0);
  g = gather_rx_buffers(*r.dev, 2500, chains, 8, true);
  ASSERT_EQ(g.status, RxGatherStatus::kOk);
  EXPECT_EQ(g.count, 3);
  uint64_t left = 2500;
  uint32_t lens[3];
  for (int i = 0; i < 3; i++)
    lens[i] = rx_chain_fill(chains[i], &left);
  EXPECT_EQ(lens[0], 1000u);
  EXPECT_EQ(lens[2], 500u);
  for (int i = 0; i < 3; i++)
    r.dev->add_used(chains[i], lens[i]);
  r.dev->flush();
  DriverUsed u;
  int n = 0;
  while (r.drv->get_used(&u))
    n++;
  EXPECT_EQ(n, 3);
}

// A burst reserve takes one chain per frame in ring order, falls back to the ring for a
// frame the rest of the reserve cannot hold, and gives back what it did not use.
TEST(SplitVirtqueue, RxChainReserveTakesInOrderAndGivesBack) {
  SplitRig r;
  uint16_t ids[6];
  for (int i = 0; i < 6; i++) {
    DriverBuffer b = {TestMemory::kBase + 0x90000 + 2000u * i, 1000, true};
    ids[i] = static_cast<uint16_t>(r.drv->add_chain(&b, 1));
  }
  r.drv->publish();
  std::vector<DescChain> chains(8);
  DescChain* first = nullptr;
  {
    RxChainReserve<SplitVirtqueue, 4> reserve(*r.dev, chains.data());
    reserve.fill(6);  // capped at 4
    EXPECT_EQ(r.dev->last_avail_idx(), 4);
    RxGather g = reserve.gather(500, 8, true, &first);
    ASSERT_EQ(g.status, RxGatherStatus::kOk);
    ASSERT_EQ(g.count, 1);
    EXPECT_EQ(first->id, ids[0]);
    r.dev->add_used(*first, 500);
    g = reserve.gather(1500, 8, true, &first);  // two reserved chains
    ASSERT_EQ(g.status, RxGatherStatus::kOk);
    ASSERT_EQ(g.count, 2);
    EXPECT_EQ(first[0].id, ids[1]);
    EXPECT_EQ(first[1].id, ids[2]);
    r.dev->add_used(first[0], 1000);
    r.dev->add_used(first[1], 500);
    // One reserved chain left; a 2500-byte frame needs three: straight from the ring.
    g = reserve.gather(2500, 8, true, &first);
    ASSERT_EQ(g.status, RxGatherStatus::kOk);
    ASSERT_EQ(g.count, 3);
    EXPECT_EQ(first[0].id, ids[3]);
    EXPECT_EQ(first[2].id, ids[5]);
    for (int i = 0; i < 3; i++)
      r.dev->add_used(first[i], 1000);
    g = reserve.gather(100, 8, true, &first);
    EXPECT_EQ(g.status, RxGatherStatus::kNoBuffers);
  }
  r.dev->flush();
  DriverUsed u;
  int n = 0;
  while (r.drv->get_used(&u))
    n++;
  EXPECT_EQ(n, 6);
}

TEST(SplitVirtqueue, RxChainReserveReleaseRewinds) {
  SplitRig r;
  for (int i = 0; i < 3; i++) {
    DriverBuffer b = {TestMemory::kBase + 0x90000 + 2000u * i, 100, true};
    r.drv->add_chain(&b, 1);
  }
  r.drv->publish();
  std::vector<DescChain> chains(4);
  DescChain* first = nullptr;
  RxChainReserve<SplitVirtqueue, 4> reserve(*r.dev, chains.data());
  reserve.fill(3);
  // Without MRG_RXBUF a frame too large for its one chain still consumes it.
  RxGather g = reserve.gather(500, 4, false, &first);
  EXPECT_EQ(g.status, RxGatherStatus::kTooSmall);
  EXPECT_EQ(g.count, 1);
  reserve.release();
  EXPECT_EQ(r.dev->last_avail_idx(), 1);
  DescChain c;
  EXPECT_EQ(r.dev->pop(&c), PopStatus::kOk);
  EXPECT_EQ(r.dev->pop(&c), PopStatus::kOk);
  EXPECT_EQ(r.dev->pop(&c), PopStatus::kEmpty);
}

TEST(SplitVirtqueue, NonMergeableRxTooSmallAndNotWritable) {
  SplitRig r;
  DriverBuffer b = {TestMemory::kBase + 0x90000, 100, true};
  r.drv->add_chain(&b, 1);
  DriverBuffer ro = {TestMemory::kBase + 0x90000, 100, false};
  r.drv->add_chain(&ro, 1);
  r.drv->publish();
  DescChain chains[4];
  RxGather g = gather_rx_buffers(*r.dev, 200, chains, 4, false);
  EXPECT_EQ(g.status, RxGatherStatus::kTooSmall);
  EXPECT_EQ(g.count, 1);
  g = gather_rx_buffers(*r.dev, 50, chains, 4, false);
  EXPECT_EQ(g.status, RxGatherStatus::kBroken);
  EXPECT_EQ(r.dev->broken_reason(), QueueError::kRxChainNotWritable);
}

TEST(SplitVirtqueue, DirtyLogging) {
  SplitRig r;
  std::vector<uint8_t> log((TestMemory::kEnd >> 12) / 8 + 1);
  r.m.mem.set_dirty_log(log.data(), log.size());
  auto dirty = [&](uint64_t gpa) { return (log[(gpa >> 12) / 8] >> ((gpa >> 12) % 8)) & 1; };
  DriverBuffer b = {TestMemory::kBorder - 100, 8192, true};
  r.drv->add_chain(&b, 1);
  r.drv->publish();
  DescChain c;
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  r.dev->add_used(c, 5000);
  r.dev->flush();
  EXPECT_TRUE(dirty(TestMemory::kBorder - 100));
  EXPECT_TRUE(dirty(TestMemory::kBorder + 4096));
  EXPECT_FALSE(dirty(TestMemory::kBorder + 8192));  // beyond the 5000 written bytes
  EXPECT_TRUE(dirty(TestMemory::kBase));            // the used ring lives in the first page
}

TEST(SplitVirtqueue, MapRingChecks) {
  TestMemory m;
  SplitVirtqueueConfig cfg;
  std::string error;
  uint64_t base = TestMemory::kBase;
  EXPECT_FALSE(SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 12, base,
                                        base + 0x1000, base + 0x2000, &cfg, &error));
  EXPECT_FALSE(SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 65536, base,
                                        base + 0x1000, base + 0x2000, &cfg, &error));
  EXPECT_FALSE(SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 256, base + 8,
                                        base + 0x1000, base + 0x2000, &cfg, &error));
  EXPECT_NE(error.find("misaligned"), std::string::npos);
  // A used ring running over the end of guest memory.
  EXPECT_FALSE(SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 256, base,
                                        base + 0x1000, TestMemory::kEnd - 64, &cfg, &error));
  EXPECT_NE(error.find("used ring"), std::string::npos);
  // A descriptor table crossing the region border is not one mapping.
  EXPECT_FALSE(SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 256,
                                        TestMemory::kBorder - 1024, base + 0x1000, base + 0x2000,
                                        &cfg, &error));
  EXPECT_TRUE(SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kFrontendVirtual, 256,
                                       base + TestMemory::kUserOffset,
                                       base + 0x1000 + TestMemory::kUserOffset,
                                       base + 0x2000 + TestMemory::kUserOffset, &cfg, &error))
      << error;
  EXPECT_EQ(cfg.desc, m.mem.translate(base, 1));
  EXPECT_FALSE(SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kFrontendVirtual, 256, base,
                                        base + 0x1000, base + 0x2000, &cfg, &error));
}

// --- hostile drivers ----------------------------------------------------------------------

constexpr uint16_t kNext = VRING_DESC_F_NEXT;
constexpr uint16_t kWrite = VRING_DESC_F_WRITE;
constexpr uint16_t kIndirect = VRING_DESC_F_INDIRECT;
constexpr uint64_t kData = TestMemory::kBase + 0x90000;

uint16_t load_used_idx(SplitRig& r) {
  uint16_t v;
  std::memcpy(&v, r.drv->used_area() + 2, 2);
  return v;
}

// Writes an indirect table of raw entries {addr, len, flags, next} at gpa.
void write_table(TestMemory& m, uint64_t gpa,
                 std::initializer_list<std::tuple<uint64_t, uint32_t, uint16_t, uint16_t>> e) {
  uint64_t at = gpa;
  for (auto [addr, len, flags, next] : e) {
    uint8_t raw[16];
    std::memcpy(raw, &addr, 8);
    std::memcpy(raw + 8, &len, 4);
    std::memcpy(raw + 12, &flags, 2);
    std::memcpy(raw + 14, &next, 2);
    m.write(at, raw, 16);
    at += 16;
  }
}

TEST(SplitVirtqueueHostile, HeadIndexOutOfRange) {
  for (bool burst : {false, true}) {
    SplitRig r;
    r.drv->push_head(16);
    r.drv->publish();
    r.expect_broken(QueueError::kDescIndexOutOfRange, burst);
  }
}

TEST(SplitVirtqueue, IndirectTableAcrossRegionBorder) {
  SplitRig r;
  uint64_t table = TestMemory::kBorder - 16;  // entry 0 in region 0, entry 1 in region 1
  write_table(r.m, table, {{kData, 8, kNext, 1}, {kData + 64, 16, kWrite, 0}});
  r.drv->write_desc(0, table, 32, kIndirect, 0);
  r.drv->push_head(0);
  r.drv->publish();
  DescChain c;
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk) << r.dev->broken_detail();
  EXPECT_EQ(c.count, 2);
  EXPECT_EQ(c.readable_len, 8u);
  EXPECT_EQ(c.writable_len, 16u);
}

TEST(SplitVirtqueueHostile, NextIndexOutOfRange) {
  SplitRig r;
  r.drv->write_desc(0, kData, 10, kNext, 4000);
  r.drv->push_head(0);
  r.drv->publish();
  r.expect_broken(QueueError::kDescIndexOutOfRange);
}

TEST(SplitVirtqueueHostile, Loop) {
  SplitRig r;
  r.drv->write_desc(0, kData, 10, kNext, 1);
  r.drv->write_desc(1, kData, 10, kNext, 0);
  r.drv->push_head(0);
  r.drv->publish();
  r.expect_broken(QueueError::kChainTooLong);
}

TEST(SplitVirtqueueHostile, SelfLoop) {
  SplitRig r;
  r.drv->write_desc(3, kData, 10, kNext, 3);
  r.drv->push_head(3);
  r.drv->publish();
  r.expect_broken(QueueError::kChainTooLong);
}

TEST(SplitVirtqueueHostile, IndirectNotNegotiated) {
  SplitRig r({.indirect = false});
  r.drv->write_desc(0, kData, 32, kIndirect, 0);
  r.drv->push_head(0);
  r.drv->publish();
  r.expect_broken(QueueError::kIndirectNotNegotiated);
}

TEST(SplitVirtqueueHostile, IndirectWithNext) {
  SplitRig r;
  r.drv->write_desc(0, kData, 32, kIndirect | kNext, 1);
  r.drv->push_head(0);
  r.drv->publish();
  r.expect_broken(QueueError::kIndirectWithNext);
}

TEST(SplitVirtqueueHostile, IndirectBadLength) {
  for (uint32_t len : {0u, 17u, 15u, (kMaxQueueSize + 1) * 16}) {
    SplitRig r;
    r.drv->write_desc(0, kData, len, kIndirect, 0);
    r.drv->push_head(0);
    r.drv->publish();
    r.expect_broken(QueueError::kIndirectBadLength);
  }
}

TEST(SplitVirtqueueHostile, IndirectTableOutsideMemory) {
  SplitRig r;
  r.drv->write_desc(0, TestMemory::kEnd + 4096, 32, kIndirect, 0);
  r.drv->push_head(0);
  r.drv->publish();
  r.expect_broken(QueueError::kIndirectOutOfMemory);
}

TEST(SplitVirtqueueHostile, IndirectTableRunningOffMemory) {
  SplitRig r;
  // Two entries, the second past the end of guest memory.
  uint64_t table = TestMemory::kEnd - 16;
  uint8_t entry[16] = {};
  uint64_t addr = kData;
  uint32_t len = 8;
  uint16_t flags = kNext, next = 1;
  std::memcpy(entry, &addr, 8);
  std::memcpy(entry + 8, &len, 4);
  std::memcpy(entry + 12, &flags, 2);
  std::memcpy(entry + 14, &next, 2);
  r.m.write(table, entry, 16);
  r.drv->write_desc(0, table, 32, kIndirect, 0);
  r.drv->push_head(0);
  r.drv->publish();
  r.expect_broken(QueueError::kIndirectOutOfMemory);
}

TEST(SplitVirtqueueHostile, IndirectNested) {
  SplitRig r;
  uint64_t table = TestMemory::kBase + 0xa0000;
  write_table(r.m, table, {{kData, 8, kNext, 1}, {table, 32, kIndirect, 0}});
  r.drv->write_desc(0, table, 32, kIndirect, 0);
  r.drv->push_head(0);
  r.drv->publish();
  r.expect_broken(QueueError::kIndirectNested);
}

TEST(SplitVirtqueueHostile, IndirectLoopAndBadNext) {
  {
    SplitRig r;
    uint64_t table = TestMemory::kBase + 0xa0000;
    write_table(r.m, table, {{kData, 8, kNext, 1}, {kData, 8, kNext, 0}});
    r.drv->write_desc(0, table, 32, kIndirect, 0);
    r.drv->push_head(0);
    r.drv->publish();
    r.expect_broken(QueueError::kChainTooLong);
  }
  {
    SplitRig r;
    uint64_t table = TestMemory::kBase + 0xa0000;
    write_table(r.m, table, {{kData, 8, kNext, 2}, {kData, 8, 0, 0}});
    r.drv->write_desc(0, table, 32, kIndirect, 0);
    r.drv->push_head(0);
    r.drv->publish();
    r.expect_broken(QueueError::kDescIndexOutOfRange);
  }
}

TEST(SplitVirtqueueHostile, BufferOutsideMemory) {
  for (bool burst : {false, true}) {
    for (uint64_t addr : {uint64_t{0}, TestMemory::kEnd, TestMemory::kEnd - 10, ~uint64_t{0} - 4}) {
      SplitRig r;
      r.drv->write_desc(0, addr, 64, 0, 0);
      r.drv->push_head(0);
      r.drv->publish();
      r.expect_broken(QueueError::kBufferOutOfMemory, burst);
    }
  }
}

TEST(SplitVirtqueueHostile, ZeroLength) {
  for (bool burst : {false, true}) {
    SplitRig r;
    r.drv->write_desc(0, kData, 0, 0, 0);
    r.drv->push_head(0);
    r.drv->publish();
    r.expect_broken(QueueError::kZeroLength, burst);
  }
}

TEST(SplitVirtqueueHostile, ReadableAfterWritable) {
  SplitRig r;
  r.drv->write_desc(0, kData, 10, kWrite | kNext, 1);
  r.drv->write_desc(1, kData, 10, 0, 0);
  r.drv->push_head(0);
  r.drv->publish();
  r.expect_broken(QueueError::kReadableAfterWritable);
}

TEST(SplitVirtqueueHostile, AvailIdxJump) {
  for (bool burst : {false, true}) {
    SplitRig r({.size = 16, .start = 65530});
    r.drv->set_avail_idx_raw(static_cast<uint16_t>(65530 + 17));
    r.expect_broken(QueueError::kAvailIdxJump, burst);
  }
}

// The index jumps while chains read before it are still unpopped: they are popped, then
// the jump breaks the queue.
TEST(SplitVirtqueueHostile, AvailIdxJumpBehindPendingChains) {
  SplitRig r({.size = 16});
  DriverBuffer b = {kData, 64, false};
  for (int i = 0; i < 2; i++)
    ASSERT_GE(r.drv->add_chain(&b, 1), 0);
  r.drv->publish();
  DescChain chains[4];
  ASSERT_EQ(r.dev->pop_burst(chains, 1), 1);
  r.drv->set_avail_idx_raw(static_cast<uint16_t>(2 + 17));
  EXPECT_EQ(r.dev->pop_burst(chains, 4), 1);
  EXPECT_TRUE(r.dev->broken());
  EXPECT_EQ(r.dev->broken_reason(), QueueError::kAvailIdxJump) << r.dev->broken_detail();
}

TEST(SplitVirtqueueHostile, ReofferBeforeFlush) {
  SplitRig r({.size = 4});
  r.drv->write_desc(0, kData, 8, 0, 0);
  DescChain c;
  for (int i = 0; i < 9; i++) {
    r.drv->push_head(0);  // the same descriptor, over and over
    r.drv->publish();
    ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
    r.dev->add_used(c, 0);
  }
  EXPECT_EQ(load_used_idx(r), 8);  // published early, twice
  r.dev->flush();
  EXPECT_EQ(load_used_idx(r), 9);
  EXPECT_FALSE(r.dev->broken());
}

TEST(SplitVirtqueueHostile, TooManyBuffers) {
  SplitRig r({.size = 128});
  for (uint16_t i = 0; i < 70; i++)
    r.drv->write_desc(i, kData, 4, i < 69 ? kNext : 0, i + 1);
  r.drv->push_head(0);
  r.drv->publish();
  r.expect_broken(QueueError::kTooManyBuffers);
}

TEST(SplitVirtqueueHostile, BrokenQueueWritesNothing) {
  SplitRig r;
  DriverBuffer b = {kData, 64, true};
  r.drv->add_chain(&b, 1);
  r.drv->push_head(99);
  r.drv->publish();
  DescChain c;
  ASSERT_EQ(r.dev->pop(&c), PopStatus::kOk);
  EXPECT_EQ(r.dev->pop(&c), PopStatus::kBroken);
  r.dev->add_used(0, 10);
  r.dev->flush();
  DriverUsed u;
  EXPECT_FALSE(r.drv->get_used(&u));
  EXPECT_FALSE(r.dev->needs_interrupt());
  EXPECT_FALSE(r.dev->has_available());
}

}  // namespace
}  // namespace ferry::virtio
