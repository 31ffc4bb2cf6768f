// Inflight tracking of split rings: a device "crashes" (its object is abandoned, the guest
// memory and the inflight area stay) at every step of popping and completing, a new device
// is built from the same memory, the same area and the base a front-end sends on reconnect
// (used->idx), and every chain must end up completed exactly once, in the right order.

#include "virtio/inflight.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "test_memory.h"
#include "virtio/mergeable_rx.h"
#include "virtio/split_virtqueue.h"
#include "virtio/split_virtqueue_driver.h"
#include "virtio/vring.h"

namespace ferry::virtio {
namespace {

using test::TestMemory;

constexpr uint64_t kBufLen = 64;

// Guest (driver), inflight area and the current device of one split ring.
class Rig {
 public:
  explicit Rig(uint16_t size = 16, uint16_t start = 0) : size_(size) {
    desc_ = m_.alloc(SplitVirtqueue::desc_bytes(size), 16);
    avail_ = m_.alloc(SplitVirtqueue::avail_bytes(size), 2);
    used_ = m_.alloc(SplitVirtqueue::used_bytes(size), 4);
    bufs_ = m_.alloc(kBufLen * size, 64);
    for (uint16_t i = 0; i < size; i++)
      free_slots_.push_back(size - 1 - i);
    SplitVirtqueueDriver::Options d;
    d.size = size;
    d.desc_gpa = desc_;
    d.avail_gpa = avail_;
    d.used_gpa = used_;
    d.start_idx = start;
    drv_ = std::make_unique<SplitVirtqueueDriver>(m_.mem, d);
    EXPECT_TRUE(drv_->ok());
    area_mem_.assign(inflight_queue_bytes(size, false) / 8, 0);
    area_ = reinterpret_cast<InflightQueueSplit*>(area_mem_.data());
    build_device(start);
  }

  // A new device over the same memory and area (the old one is simply dropped).
  void build_device(uint16_t base, uint32_t capacity = 0) {
    SplitVirtqueueConfig cfg;
    std::string error;
    ASSERT_TRUE(SplitVirtqueue::map_ring(m_.mem, RingAddressSpace::kGuestPhysical, size_, desc_,
                                         avail_, used_, &cfg, &error));
    cfg.last_avail_idx = base;
    cfg.used_idx = base;
    cfg.indirect = true;
    cfg.inflight = area_;
    cfg.inflight_capacity = capacity != 0 ? capacity : size_;
    dev_ = std::make_unique<SplitVirtqueue>(&m_.mem, cfg);
  }
  // What QEMU sends as the base after a back-end crash: the used index.
  void restart() { build_device(used_idx()); }

  // The driver posts n tx chains, each carrying a unique token.
  void post(int n, bool writable = false) {
    for (int i = 0; i < n; i++) {
      ASSERT_FALSE(free_slots_.empty());
      uint16_t slot = free_slots_.back();
      free_slots_.pop_back();
      uint32_t token = next_token_++;
      uint64_t gpa = bufs_ + kBufLen * slot;
      m_.write(gpa, &token, sizeof(token));
      DriverBuffer b{gpa, static_cast<uint32_t>(kBufLen), writable};
      int head = drv_->add_chain(&b, 1);
      ASSERT_GE(head, 0);
      outstanding_[static_cast<uint16_t>(head)] = {token, slot};
    }
    drv_->publish();
  }

  // The device pops up to n chains; returns their tokens (chains kept in popped_).
  std::vector<uint32_t> pop(int n) {
    std::vector<uint32_t> tokens;
    for (int i = 0; i < n; i++) {
      DescChain c;
      if (dev_->pop(&c) != PopStatus::kOk) break;
      uint32_t token;
      std::memcpy(&token, c.buffers[0].addr, sizeof(token));
      tokens.push_back(token);
      popped_.push_back(c.id);
    }
    return tokens;
  }
  // Completes the popped chains at the given positions of popped_ (no flush).
  void complete(std::initializer_list<size_t> which) {
    for (size_t i : which)
      dev_->add_used(popped_[i], 0);
  }
  void complete_all_popped() {
    for (uint16_t h : popped_)
      dev_->add_used(h, 0);
    popped_.clear();
  }
  void forget_popped() { popped_.clear(); }
  void set_popped(std::vector<uint16_t> heads) { popped_ = std::move(heads); }

  // The driver reads the used entries: tokens completed, counted.
  void drain() {
    DriverUsed u;
    while (drv_->get_used(&u)) {
      auto it = outstanding_.find(u.id);
      ASSERT_NE(it, outstanding_.end()) << "used id " << u.id << " not outstanding";
      completed_.push_back(it->second.token);
      free_slots_.push_back(it->second.slot);
      outstanding_.erase(it);
    }
  }

  // Pops and completes everything the device has, in bursts; returns the pop order.
  std::vector<uint32_t> run_to_empty() {
    std::vector<uint32_t> order;
    for (;;) {
      std::vector<uint32_t> t = pop(4);
      if (t.empty()) break;
      order.insert(order.end(), t.begin(), t.end());
      complete_all_popped();
      dev_->flush();
    }
    drain();
    return order;
  }

  // Every token posted was completed exactly once.
  void expect_exactly_once() {
    std::vector<uint32_t> c = completed_;
    std::sort(c.begin(), c.end());
    ASSERT_EQ(c.size(), next_token_) << "completed " << completed_.size() << " of " << next_token_;
    for (uint32_t i = 0; i < next_token_; i++)
      ASSERT_EQ(c[i], i);
    EXPECT_TRUE(outstanding_.empty());
  }

  uint16_t used_idx() {
    uint16_t v;
    m_.read(used_ + offsetof(vring_used, idx), &v, 2);
    return v;
  }
  void set_used_idx(uint16_t v) { m_.write(used_ + offsetof(vring_used, idx), &v, 2); }

  SplitVirtqueue& dev() { return *dev_; }
  SplitVirtqueueDriver& drv() { return *drv_; }
  InflightQueueSplit* area() { return area_; }
  InflightDescSplit* desc() { return area_->desc(); }
  const std::vector<uint16_t>& popped() const { return popped_; }
  const std::vector<uint32_t>& completed() const { return completed_; }
  uint16_t size() const { return size_; }
  TestMemory& memory() { return m_; }

 private:
  struct Out {
    uint32_t token;
    uint16_t slot;
  };
  TestMemory m_;
  uint16_t size_;
  uint64_t desc_, avail_, used_, bufs_;
  std::unique_ptr<SplitVirtqueueDriver> drv_;
  std::vector<uint64_t> area_mem_;
  InflightQueueSplit* area_;
  std::unique_ptr<SplitVirtqueue> dev_;
  std::vector<uint16_t> free_slots_;
  std::map<uint16_t, Out> outstanding_;
  std::vector<uint16_t> popped_;
  std::vector<uint32_t> completed_;
  uint32_t next_token_ = 0;
};

std::vector<uint32_t> seq(std::initializer_list<uint32_t> v) {
  return v;
}

TEST(Inflight, FreshAreaIsInitialized) {
  Rig r;
  EXPECT_TRUE(r.dev().inflight_tracked());
  EXPECT_TRUE(r.dev().inflight_fresh());
  EXPECT_EQ(r.dev().inflight_error(), InflightError::kNone);
  EXPECT_EQ(r.area()->version, kInflightVersion);
  EXPECT_EQ(r.area()->desc_num, 16);
  EXPECT_EQ(r.area()->used_idx, 0);
}

TEST(Inflight, PopFlagsAndFlushRetires) {
  Rig r;
  r.post(3);
  ASSERT_EQ(r.pop(3).size(), 3u);
  uint16_t a = r.popped()[0], b = r.popped()[1], c = r.popped()[2];
  EXPECT_EQ(r.desc()[a].inflight, 1);
  EXPECT_EQ(r.desc()[b].inflight, 1);
  EXPECT_EQ(r.desc()[c].inflight, 1);
  EXPECT_LT(r.desc()[a].counter, r.desc()[b].counter);
  EXPECT_LT(r.desc()[b].counter, r.desc()[c].counter);
  r.complete({2, 0});
  EXPECT_EQ(r.desc()[c].inflight, 1);  // nothing retired before the publication
  r.dev().flush();
  EXPECT_EQ(r.desc()[a].inflight, 0);
  EXPECT_EQ(r.desc()[b].inflight, 1);
  EXPECT_EQ(r.desc()[c].inflight, 0);
  EXPECT_EQ(r.area()->used_idx, 2);
  EXPECT_EQ(r.area()->last_batch_head, a);  // the list of the batch: a -> c
  EXPECT_EQ(r.desc()[a].next, c);
}

TEST(Inflight, NoAreaNoTracking) {
  TestMemory m;
  uint64_t desc = m.alloc(SplitVirtqueue::desc_bytes(8), 16);
  uint64_t avail = m.alloc(SplitVirtqueue::avail_bytes(8), 2);
  uint64_t used = m.alloc(SplitVirtqueue::used_bytes(8), 4);
  SplitVirtqueueConfig cfg;
  std::string error;
  ASSERT_TRUE(SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 8, desc, avail,
                                       used, &cfg, &error));
  SplitVirtqueue q(&m.mem, cfg);
  EXPECT_FALSE(q.inflight_tracked());
  EXPECT_EQ(q.resubmit_pending(), 0);
}

// The crash points of one pop / complete / publish cycle.
enum class Crash {
  kAfterPop,                 // chains popped (and flagged), nothing completed
  kAfterUsedWritten,         // used entries written, not published
  kAfterListBeforeIdx,       // batch list recorded, used->idx not stored
  kAfterIdxBeforeClear,      // used->idx stored, flags not cleared
  kAfterClearBeforeUsedIdx,  // flags cleared, area used_idx not stored
  kAfterPublish,             // the whole publication done
};

class InflightCrash : public ::testing::TestWithParam<Crash> {};

// Pops 6 of 10 chains, completes 3 of them out of order (positions 1, 4, 3), crashes.
void crash_cycle(Rig& r, Crash where) {
  uint16_t area_used = r.area()->used_idx;
  uint16_t ring_used = r.used_idx();
  r.complete({1, 4, 3});
  std::vector<uint16_t> done = {r.popped()[1], r.popped()[4], r.popped()[3]};
  if (where == Crash::kAfterUsedWritten) return;
  r.dev().flush();
  switch (where) {
    case Crash::kAfterListBeforeIdx:
      r.set_used_idx(ring_used);
      [[fallthrough]];
    case Crash::kAfterIdxBeforeClear:
      for (uint16_t h : done)
        r.desc()[h].inflight = 1;
      [[fallthrough]];
    case Crash::kAfterClearBeforeUsedIdx:
      r.area()->used_idx = area_used;
      break;
    default:
      break;
  }
}

TEST_P(InflightCrash, ExactlyOnceAfterRestart) {
  Crash where = GetParam();
  Rig r;
  r.post(10);
  ASSERT_EQ(r.pop(6), seq({0, 1, 2, 3, 4, 5}));
  if (where != Crash::kAfterPop) crash_cycle(r, where);
  r.forget_popped();
  r.drain();  // the guest sees what was published
  bool published = where == Crash::kAfterIdxBeforeClear ||
                   where == Crash::kAfterClearBeforeUsedIdx || where == Crash::kAfterPublish;
  EXPECT_EQ(r.completed().size(), published ? 3u : 0u);

  r.restart();
  EXPECT_EQ(r.dev().inflight_error(), InflightError::kNone);
  EXPECT_FALSE(r.dev().inflight_fresh());
  if (where == Crash::kAfterIdxBeforeClear || where == Crash::kAfterClearBeforeUsedIdx) {
    EXPECT_EQ(r.dev().inflight_batch_cleared(), 3);
  } else {
    EXPECT_EQ(r.dev().inflight_batch_cleared(), 0);
  }
  // Resubmitted first, in their original order, then the chains never popped.
  std::vector<uint32_t> order = r.run_to_empty();
  if (published) {
    EXPECT_EQ(r.dev().resubmit_total(), 3);
    EXPECT_EQ(order, seq({0, 2, 5, 6, 7, 8, 9}));
  } else {
    EXPECT_EQ(r.dev().resubmit_total(), 6);
    EXPECT_EQ(order, seq({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  }
  r.expect_exactly_once();
  EXPECT_EQ(r.area()->used_idx, r.used_idx());
  for (uint16_t i = 0; i < r.size(); i++)
    EXPECT_EQ(r.desc()[i].inflight, 0) << i;

  // The ring goes on normally afterwards.
  r.post(5);
  EXPECT_EQ(r.run_to_empty().size(), 5u);
  r.expect_exactly_once();
}

std::string crash_name(const ::testing::TestParamInfo<Crash>& info) {
  static const char* const kNames[] = {"AfterPop",
                                       "AfterUsedWritten",
                                       "AfterListBeforeIdx",
                                       "AfterIdxBeforeClear",
                                       "AfterClearBeforeUsedIdx",
                                       "AfterPublish"};
  return kNames[static_cast<int>(info.param)];
}

INSTANTIATE_TEST_SUITE_P(Points, InflightCrash,
                         ::testing::Values(Crash::kAfterPop, Crash::kAfterUsedWritten,
                                           Crash::kAfterListBeforeIdx, Crash::kAfterIdxBeforeClear,
                                           Crash::kAfterClearBeforeUsedIdx, Crash::kAfterPublish),
                         crash_name);

TEST(Inflight, CrashWhileResubmitting) {
  Rig r;
  r.post(8);
  ASSERT_EQ(r.pop(5).size(), 5u);
  r.complete({2});
  r.dev().flush();
  r.forget_popped();
  r.restart();  // 4 to resubmit: tokens 0 1 3 4
  ASSERT_EQ(r.dev().resubmit_total(), 4);
  ASSERT_EQ(r.pop(3), seq({0, 1, 3}));
  r.complete({1});  // token 1
  r.dev().flush();
  r.forget_popped();
  r.drain();
  r.restart();  // second crash: 0 3 4 still inflight
  EXPECT_EQ(r.dev().resubmit_total(), 3);
  EXPECT_EQ(r.run_to_empty(), seq({0, 3, 4, 5, 6, 7}));
  r.expect_exactly_once();
}

TEST(Inflight, RewindUnflagsAndKeepsResubmits) {
  Rig r;
  r.post(6, true);
  ASSERT_EQ(r.pop(2).size(), 2u);
  r.forget_popped();
  r.restart();  // tokens 0 1 to resubmit
  // Mergeable rx that runs out of buffers: takes everything, gives it back.
  DescChain chains[16];
  RxGather g = gather_rx_buffers(r.dev(), 100000, chains, 16, true);
  EXPECT_EQ(g.status, RxGatherStatus::kNoBuffers);
  EXPECT_EQ(r.dev().resubmit_pending(), 2);
  int flagged = 0;
  for (uint16_t i = 0; i < r.size(); i++)
    flagged += r.desc()[i].inflight;
  EXPECT_EQ(flagged, 2);  // the resubmitted ones stay flagged, the new ones are not
  // A crash now changes nothing.
  r.restart();
  EXPECT_EQ(r.run_to_empty(), seq({0, 1, 2, 3, 4, 5}));
  r.expect_exactly_once();
}

TEST(Inflight, WrapAroundIndices) {
  Rig r(8, 65530);
  for (int round = 0; round < 4; round++) {
    r.post(6);
    ASSERT_EQ(r.pop(5).size(), 5u);
    r.complete({4, 0});
    r.dev().flush();
    r.forget_popped();
    r.drain();
    r.restart();
    r.run_to_empty();
    r.expect_exactly_once();
  }
}

// Random pops, completions, rewinds and crashes at random points: exactly once.
TEST(Inflight, RandomCrashes) {
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 200; iter++) {
    Rig r(rng() % 2 ? 8 : 16);
    for (int step = 0; step < 60; step++) {
      switch (rng() % 6) {
        case 0:
          if (r.drv().free_descs() > 0) r.post(1 + rng() % r.drv().free_descs());
          break;
        case 1:
          r.pop(1 + rng() % 4);
          break;
        case 2: {
          // Complete a random subset of what is popped.
          std::vector<uint16_t> keep;
          for (uint16_t h : r.popped()) {
            if (rng() % 2) {
              r.dev().add_used(h, 0);
            } else {
              keep.push_back(h);
            }
          }
          r.set_popped(keep);
          if (rng() % 3) r.dev().flush();
          break;
        }
        case 3:
          r.drain();
          break;
        case 4: {
          // Crash; sometimes in the middle of a publication.
          uint16_t area_used = r.area()->used_idx;
          if (rng() % 2 && !r.popped().empty()) {
            uint16_t h = r.popped()[0];
            r.dev().add_used(h, 0);
            r.dev().flush();
            if (rng() % 2) r.desc()[h].inflight = 1;
            r.area()->used_idx = area_used;
          }
          r.forget_popped();
          r.restart();
          ASSERT_EQ(r.dev().inflight_error(), InflightError::kNone);
          break;
        }
        default:
          break;
      }
    }
    // Finish: pop and complete everything, crash once more, finish again.
    r.complete_all_popped();
    r.dev().flush();
    r.restart();
    r.run_to_empty();
    r.expect_exactly_once();
  }
}

// --- hostile areas -------------------------------------------------------------------------

struct Hostile {
  const char* name;
  InflightError want;
  void (*spoil)(Rig&);
};

class InflightHostile : public ::testing::TestWithParam<Hostile> {};

TEST_P(InflightHostile, RejectedAndReinitialized) {
  Rig r;
  r.post(5);
  ASSERT_EQ(r.pop(3).size(), 3u);
  r.complete({1});
  r.dev().flush();
  r.forget_popped();
  r.drain();
  GetParam().spoil(r);
  r.restart();
  EXPECT_EQ(r.dev().inflight_error(), GetParam().want) << GetParam().name;
  EXPECT_TRUE(r.dev().inflight_tracked());
  EXPECT_EQ(r.dev().resubmit_total(), 0);
  EXPECT_EQ(r.area()->version, kInflightVersion);
  for (uint16_t i = 0; i < r.size(); i++)
    EXPECT_EQ(r.desc()[i].inflight, 0);
  // Without recovery the ring continues at the front-end's base (used->idx = 1), as
  // without tracking; the queue works.
  EXPECT_EQ(r.dev().last_avail_idx(), 1);
  EXPECT_EQ(r.pop(16).size(), 4u);
}

INSTANTIATE_TEST_SUITE_P(
    Areas, InflightHostile,
    ::testing::Values(
        Hostile{"version", InflightError::kBadVersion, [](Rig& r) { r.area()->version = 7; }},
        Hostile{"desc_num", InflightError::kBadDescNum, [](Rig& r) { r.area()->desc_num = 32; }},
        Hostile{"batch too long", InflightError::kBadBatch,
                [](Rig& r) { r.area()->used_idx = static_cast<uint16_t>(r.used_idx() - 17); }},
        Hostile{"batch head out of range", InflightError::kBadBatch,
                [](Rig& r) {
                  r.area()->used_idx = 0;
                  r.area()->last_batch_head = 16;
                }},
        Hostile{"batch loop", InflightError::kBadBatch,
                [](Rig& r) {
                  // 2 entries in the last batch, list 2 -> 2
                  r.area()->used_idx = static_cast<uint16_t>(r.used_idx() - 2);
                  r.area()->last_batch_head = 2;
                  r.desc()[2].next = 2;
                }},
        Hostile{"flag", InflightError::kBadEntry, [](Rig& r) { r.desc()[9].inflight = 2; }},
        Hostile{"too many", InflightError::kTooManyInflight,
                [](Rig& r) {
                  for (uint16_t i = 0; i < 16; i++) {
                    r.desc()[i].inflight = 1;
                    r.desc()[i].counter = 100 + i;
                  }
                }},
        Hostile{"duplicate counter", InflightError::kDuplicateCounter,
                [](Rig& r) {
                  for (uint16_t i = 0; i < 16; i++) {
                    if (r.desc()[i].inflight) r.desc()[i].counter = 5;
                  }
                }}),
    [](const ::testing::TestParamInfo<Hostile>& p) {
      std::string n = p.param.name;
      std::replace(n.begin(), n.end(), ' ', '_');
      return n;
    });

TEST(Inflight, AreaTooSmallIsNotUsed) {
  Rig r;
  r.build_device(0, 8);  // room for 8 entries, ring of 16
  EXPECT_FALSE(r.dev().inflight_tracked());
  EXPECT_EQ(r.dev().inflight_error(), InflightError::kBadDescNum);
  r.post(3);
  EXPECT_EQ(r.run_to_empty().size(), 3u);
}

TEST(Inflight, RecoveryReadsOnlyTheRing) {
  // recover_split_inflight never looks past desc[size) even with hostile heads and lists.
  std::vector<uint64_t> mem(inflight_queue_bytes(4, false) / 8, 0);
  auto* area = reinterpret_cast<InflightQueueSplit*>(mem.data());
  area->version = kInflightVersion;
  area->desc_num = 4;
  area->used_idx = 0;
  area->last_batch_head = 3;
  area->desc()[3].next = 0xffff;
  InflightRecovery rec = recover_split_inflight(area, 4, 4, 2, 4);
  EXPECT_EQ(rec.error, InflightError::kBadBatch);
  area->desc()[0].inflight = 1;
  area->desc()[0].counter = 9;
  area->desc()[1].inflight = 1;
  area->desc()[1].counter = 3;
  EXPECT_EQ(area->used_idx, 2);  // reinitialized at the ring's used index
  rec = recover_split_inflight(area, 4, 4, 2, 5);
  EXPECT_EQ(rec.error, InflightError::kNone);
  EXPECT_EQ(rec.resubmit, (std::vector<uint16_t>{1, 0}));
  EXPECT_EQ(rec.last_avail_idx, 4);
  EXPECT_EQ(rec.next_counter, 10u);
  EXPECT_STREQ(to_string(InflightError::kDuplicateCounter), "duplicate counter");
}

}  // namespace
}  // namespace ferry::virtio
