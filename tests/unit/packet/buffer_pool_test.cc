#include "packet/buffer_pool.h"

#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ferry {
namespace {

static_assert(sizeof(Packet) <= 64, "Packet must fit one cache line");
static_assert(alignof(Packet) <= 64);

std::unique_ptr<BufferPool> make_pool(uint32_t count, uint32_t data_room = 2048,
                                      uint16_t headroom = kDefaultHeadroom) {
  return BufferPool::create(
      {.name = "test", .buffer_count = count, .data_room = data_room, .headroom = headroom});
}

TEST(BufferPool, RejectsInvalidConfig) {
  EXPECT_EQ(make_pool(0), nullptr);
  EXPECT_EQ(make_pool(1, 0, 0), nullptr);
  // More than 4 GiB of arena.
  EXPECT_EQ(make_pool(3u << 20, 2048), nullptr);
}

TEST(BufferPool, FreshPacketLayout) {
  auto pool = make_pool(8);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->element_size() % 64, 0u);
  Packet* p = pool->alloc();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  EXPECT_EQ(p->buffer_start(), reinterpret_cast<uint8_t*>(p) + sizeof(Packet));
  EXPECT_EQ(p->headroom(), kDefaultHeadroom);
  EXPECT_EQ(p->data_len(), 0u);
  EXPECT_EQ(p->pkt_len(), 0u);
  EXPECT_EQ(p->tailroom(), 2048u);
  EXPECT_EQ(p->pool_id(), pool->id());
  EXPECT_EQ(p->next(), nullptr);
  EXPECT_EQ(p->l3_offset(), kNoOffset);
  // The IP header behind Ethernet lands on a 4-byte (here 16-byte) boundary.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p->data() + 14) % 16, 0u);
  // The buffer lies inside the element.
  EXPECT_LE(sizeof(Packet) + p->buffer_len(), pool->element_size());
  pool->free(p);
}

TEST(BufferPool, AllocFreeAndExhaustion) {
  auto pool = make_pool(4);
  std::vector<Packet*> got;
  for (int i = 0; i < 4; i++) {
    Packet* p = pool->alloc();
    ASSERT_NE(p, nullptr);
    got.push_back(p);
  }
  EXPECT_EQ(std::set<Packet*>(got.begin(), got.end()).size(), 4u);
  EXPECT_EQ(pool->alloc(), nullptr);
  EXPECT_EQ(pool->alloc(), nullptr);
  BufferPoolStats s = pool->stats();
  EXPECT_EQ(s.allocs, 4u);
  EXPECT_EQ(s.exhausted, 2u);
  EXPECT_EQ(s.in_use, 4u);
  EXPECT_EQ(s.high_water, 4u);
  for (Packet* p : got)
    pool->free(p);
  s = pool->stats();
  EXPECT_EQ(s.frees, 4u);
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.high_water, 4u);
  EXPECT_EQ(pool->available(), 4u);
}

TEST(BufferPool, LifoRecycling) {
  auto pool = make_pool(16);
  Packet* a = pool->alloc();
  Packet* b = pool->alloc();
  pool->free(a);
  EXPECT_EQ(pool->alloc(), a);  // the buffer freed last comes back first
  pool->free(b);
  pool->free(a);
  EXPECT_EQ(pool->alloc(), a);
  EXPECT_EQ(pool->alloc(), b);
}

TEST(BufferPool, RecycledPacketIsReset) {
  auto pool = make_pool(1);
  Packet* p = pool->alloc();
  p->append(100);
  p->set_l3_offset(14);
  p->set_rss_hash(7);
  p->prepend(10);
  pool->free(p);
  Packet* q = pool->alloc();
  ASSERT_EQ(q, p);
  EXPECT_EQ(q->data_len(), 0u);
  EXPECT_EQ(q->headroom(), kDefaultHeadroom);
  EXPECT_EQ(q->l3_offset(), kNoOffset);
  EXPECT_FALSE(q->has_rss_hash());
  pool->free(q);
}

TEST(BufferPool, BulkIsAllOrNothing) {
  auto pool = make_pool(40);
  Packet* pkts[64] = {};
  ASSERT_TRUE(pool->alloc_bulk(pkts, 32));
  std::set<Packet*> distinct(pkts, pkts + 32);
  EXPECT_EQ(distinct.size(), 32u);
  for (int i = 0; i < 32; i++) {
    EXPECT_TRUE(pool->is_allocated(pkts[i]));
    EXPECT_EQ(pkts[i]->headroom(), kDefaultHeadroom);
  }
  Packet* more[16] = {};
  EXPECT_FALSE(pool->alloc_bulk(more, 16));  // 8 left
  EXPECT_EQ(more[0], nullptr);
  EXPECT_EQ(pool->available(), 8u);
  EXPECT_EQ(pool->stats().exhausted, 1u);
  EXPECT_TRUE(pool->alloc_bulk(more, 8));
  EXPECT_EQ(pool->available(), 0u);
  EXPECT_TRUE(pool->alloc_bulk(more, 0));
  pool->free_bulk(pkts, 32);
  pool->free_bulk(more, 8);
  BufferPoolStats s = pool->stats();
  EXPECT_EQ(s.allocs, 40u);
  EXPECT_EQ(s.frees, 40u);
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.high_water, 40u);
}

TEST(BufferPool, BulkRecyclesWarmBuffersFirst) {
  auto pool = make_pool(64);
  Packet* a[8];
  ASSERT_TRUE(pool->alloc_bulk(a, 8));
  pool->free_bulk(a, 8);
  Packet* b[8];
  ASSERT_TRUE(pool->alloc_bulk(b, 8));
  std::set<Packet*> sa(a, a + 8), sb(b, b + 8);
  EXPECT_EQ(sa, sb);
  pool->free_bulk(b, 8);
}

TEST(BufferPool, RegistryFindsPools) {
  auto p1 = make_pool(2);
  auto p2 = make_pool(2);
  EXPECT_NE(p1->id(), p2->id());
  EXPECT_EQ(BufferPool::from_id(p1->id()), p1.get());
  EXPECT_EQ(BufferPool::from_id(p2->id()), p2.get());
  EXPECT_EQ(BufferPool::from_id(kNoPool), nullptr);
  uint16_t id = p2->id();
  p2.reset();
  EXPECT_EQ(BufferPool::from_id(id), nullptr);
  auto p3 = make_pool(2);
  EXPECT_EQ(BufferPool::from_id(p3->id()), p3.get());
}

TEST(BufferPool, FreePacketReturnsEverySegmentToItsPool) {
  auto a = make_pool(4);
  auto b = make_pool(4, 4096, 0);
  uint8_t stack_buf[256];
  Packet on_stack;
  on_stack.init(stack_buf, sizeof(stack_buf), 0, kNoPool);
  on_stack.append(10);

  Packet* head = a->alloc();
  head->append(60);
  Packet* s1 = b->alloc();
  s1->append(4096);
  Packet* s2 = a->alloc();
  s2->append(5);
  head->append_segment(s1);
  head->append_segment(&on_stack);
  head->append_segment(s2);
  EXPECT_EQ(head->segment_count(), 4u);
  EXPECT_EQ(head->pkt_len(), 60u + 4096 + 10 + 5);
  EXPECT_EQ(a->stats().in_use, 2u);
  EXPECT_EQ(b->stats().in_use, 1u);

  free_packet(head);
  EXPECT_EQ(a->stats().in_use, 0u);
  EXPECT_EQ(b->stats().in_use, 0u);
  EXPECT_EQ(on_stack.data_len(), 10u);  // left alone
  free_packet(nullptr);
}

TEST(BufferPool, FreePacketsBurst) {
  auto pool = make_pool(32);
  Packet* pkts[16];
  ASSERT_TRUE(pool->alloc_bulk(pkts, 16));
  for (int i = 0; i < 16; i += 2)
    pkts[i]->append_segment(pkts[i + 1]);
  Packet* heads[8];
  for (int i = 0; i < 8; i++)
    heads[i] = pkts[2 * i];
  free_packets(heads, 8);
  EXPECT_EQ(pool->stats().in_use, 0u);
  EXPECT_EQ(pool->stats().frees, 16u);
}

TEST(BufferPool, FreePacketsMixedPoolsAndLongBursts) {
  auto a = make_pool(200);
  auto b = make_pool(200, 4096, 0);
  uint8_t stack_buf[64];
  Packet on_stack;
  on_stack.init(stack_buf, sizeof(stack_buf), 0, kNoPool);
  std::vector<Packet*> heads;
  for (int i = 0; i < 90; i++) {
    Packet* h = (i % 3 == 0 ? b : a)->alloc();
    ASSERT_NE(h, nullptr);
    if (i % 2 == 0) h->append_segment(b->alloc());
    if (i == 45) h->append_segment(&on_stack);
    if (i % 5 == 0) h->append_segment(a->alloc());
    heads.push_back(h);
  }
  free_packets(heads.data(), static_cast<uint32_t>(heads.size()));
  EXPECT_EQ(a->stats().in_use, 0u);
  EXPECT_EQ(b->stats().in_use, 0u);
  EXPECT_EQ(a->stats().bad_frees + b->stats().bad_frees, 0u);
  EXPECT_EQ(a->stats().frees + b->stats().frees, a->stats().allocs + b->stats().allocs);
}

TEST(BufferPool, OwnsAndIsAllocated) {
  auto pool = make_pool(4);
  auto other = make_pool(4);
  Packet* p = pool->alloc();
  Packet* q = other->alloc();
  EXPECT_TRUE(pool->owns(p));
  EXPECT_TRUE(pool->is_allocated(p));
  EXPECT_FALSE(pool->owns(q));
  // Interior pointers are not descriptors.
  EXPECT_FALSE(pool->owns(reinterpret_cast<Packet*>(reinterpret_cast<uint8_t*>(p) + 64)));
  EXPECT_FALSE(pool->owns(nullptr));
  pool->free(p);
  EXPECT_TRUE(pool->owns(p));
  EXPECT_FALSE(pool->is_allocated(p));
  other->free(q);
}

// Debug builds abort on a bad free; release builds count and ignore it. Either way the
// free stack is not corrupted.
TEST(BufferPoolDeathTest, DoubleFreeIsDetected) {
  auto pool = make_pool(4);
  Packet* p = pool->alloc();
  pool->free(p);
  EXPECT_DEBUG_DEATH(pool->free(p), "double free");
#ifdef NDEBUG
  EXPECT_EQ(pool->stats().bad_frees, 1u);
  EXPECT_EQ(pool->available(), 4u);
  Packet* x = pool->alloc();
  Packet* y = pool->alloc();
  EXPECT_NE(x, y);
#endif
}

TEST(BufferPoolDeathTest, ForeignPointerIsDetected) {
  auto pool = make_pool(4);
  auto other = make_pool(4);
  Packet* q = other->alloc();
  alignas(64) static Packet lone;
  EXPECT_DEBUG_DEATH(pool->free(q), "not from this pool");
  EXPECT_DEBUG_DEATH(pool->free(&lone), "not from this pool");
  Packet* p = pool->alloc();
  EXPECT_DEBUG_DEATH(pool->free(reinterpret_cast<Packet*>(reinterpret_cast<uint8_t*>(p) + 128)),
                     "not from this pool");
#ifdef NDEBUG
  EXPECT_EQ(pool->stats().bad_frees, 3u);
  EXPECT_EQ(pool->available(), 3u);
#endif
  pool->free(p);
  other->free(q);
}

// A pool belongs to one thread; debug builds catch another thread using it.
TEST(BufferPoolDeathTest, OwnerThreadIsChecked) {
  auto pool = make_pool(4);
  Packet* p = pool->alloc();  // this thread claims the pool
  EXPECT_DEBUG_DEATH(
      {
        std::thread t([&] { pool->free(p); });
        t.join();
      },
      "does not own");
#ifndef NDEBUG
  pool->free(p);
#endif
  // Handing over: release, then the other thread claims it.
  pool->release_owner();
  std::thread t([&] {
    Packet* q = pool->alloc();
    pool->free(q);
    pool->release_owner();
  });
  t.join();
  EXPECT_NE(pool->alloc(), nullptr);
}

TEST(Packet, ChainHelpers) {
  auto pool = make_pool(4, 64, 8);
  Packet* head = pool->alloc();
  Packet* tail = pool->alloc();
  head->append(10);
  tail->append(20);
  head->append_segment(tail);
  EXPECT_EQ(head->last_segment(), tail);
  ASSERT_NE(head->append_to_chain(30), nullptr);
  EXPECT_EQ(tail->data_len(), 50u);
  EXPECT_EQ(head->pkt_len(), 60u);
  EXPECT_EQ(head->append_to_chain(15), nullptr);  // 64 - 50 = 14 left
  EXPECT_EQ(head->pkt_len(), 60u);
  // move_data keeps the bytes and the length.
  for (uint32_t i = 0; i < 10; i++)
    head->data()[i] = static_cast<uint8_t>(i);
  uint8_t* before = head->data();
  ASSERT_TRUE(head->move_data(-3));
  EXPECT_EQ(head->data(), before - 3);
  EXPECT_EQ(head->headroom(), 5);
  EXPECT_EQ(head->data_len(), 10u);
  for (uint32_t i = 0; i < 10; i++)
    EXPECT_EQ(head->data()[i], i);
  ASSERT_TRUE(head->move_data(57));  // all the tailroom: 72 - 5 - 10
  EXPECT_EQ(head->tailroom(), 0u);
  for (uint32_t i = 0; i < 10; i++)
    EXPECT_EQ(head->data()[i], i);
  EXPECT_FALSE(head->move_data(1));
  EXPECT_FALSE(head->move_data(-63));  // headroom is 62
  EXPECT_EQ(head->pkt_len(), 60u);
  free_packet(head);
}

TEST(BufferPool, DescriptorsApartGivePageAlignedBuffers) {
  auto pool = BufferPool::create({.name = "pages",
                                  .buffer_count = 16,
                                  .data_room = 4096,
                                  .headroom = 0,
                                  .descriptors_apart = true});
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->element_size(), 64u + 4096);
  Packet* pkts[16];
  ASSERT_TRUE(pool->alloc_bulk(pkts, 16));
  std::set<uint8_t*> bufs;
  for (Packet* p : pkts) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p->data()) % 4096, 0u);
    EXPECT_EQ(p->tailroom(), 4096u);
    bufs.insert(p->data());
    EXPECT_TRUE(pool->is_allocated(p));
  }
  EXPECT_EQ(bufs.size(), 16u);
  // Descriptors are dense; a pointer into the buffer array is foreign.
  EXPECT_FALSE(pool->owns(reinterpret_cast<Packet*>(pkts[0]->data())));
  for (Packet* p : pkts)
    std::memset(p->append(4096), 0x5a, 4096);
  pool->free_bulk(pkts, 16);
  EXPECT_EQ(pool->stats().in_use, 0u);
  // With a headroom, data() is that far past the page.
  auto hp = BufferPool::create(
      {.name = "hp", .buffer_count = 4, .data_room = 2048, .descriptors_apart = true});
  Packet* p = hp->alloc();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p->data() + 14) % 16, 0u);
  hp->free(p);
}

TEST(BufferPool, OddStridesIndexExactly) {
  // Element sizes with various odd factors: every element is found, neighbours are not
  // confused.
  for (uint32_t room : {1u, 100u, 1000u, 1500u, 2048u, 4096u, 9000u}) {
    auto pool = make_pool(33, room, 0);
    ASSERT_NE(pool, nullptr);
    std::vector<Packet*> all(33);
    ASSERT_TRUE(pool->alloc_bulk(all.data(), 33));
    for (Packet* p : all) {
      EXPECT_TRUE(pool->is_allocated(p));
      EXPECT_FALSE(pool->owns(reinterpret_cast<Packet*>(reinterpret_cast<uint8_t*>(p) + 64)));
    }
    pool->free_bulk(all.data(), 33);
    EXPECT_EQ(pool->stats().bad_frees, 0u);
  }
}

}  // namespace
}  // namespace ferry
