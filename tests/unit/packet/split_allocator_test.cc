#include "packet/split_allocator.h"

#include <vector>

#include <gtest/gtest.h>

#include "packet/packet_bytes.h"

namespace ferry {
namespace {

std::vector<uint8_t> bytes_of(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; i++)
    v[i] = static_cast<uint8_t>(i ^ (i >> 7));
  return v;
}

TEST(PacketBytes, SmallFrameIsOneSegment) {
  auto pool = BufferPool::create({.name = "b", .buffer_count = 4});
  auto frame = bytes_of(60);
  Packet* p = packet_from_bytes(*pool, frame);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->segment_count(), 1u);
  EXPECT_EQ(p->headroom(), kDefaultHeadroom);
  EXPECT_EQ(packet_to_bytes(*p), frame);
  free_packet(p);
  Packet* e = packet_from_bytes(*pool, {});
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->pkt_len(), 0u);
  EXPECT_TRUE(packet_to_bytes(*e).empty());
  free_packet(e);
  EXPECT_EQ(pool->stats().in_use, 0u);
}

TEST(PacketBytes, LargeFrameIsChained) {
  auto pool = BufferPool::create({.name = "b", .buffer_count = 8});
  auto frame = bytes_of(5000);
  Packet* p = packet_from_bytes(*pool, frame);
  ASSERT_NE(p, nullptr);
  // Head: 2048 after the headroom; then whole 2178-byte buffers.
  ASSERT_EQ(p->segment_count(), 3u);
  EXPECT_EQ(p->data_len(), 2048u);
  EXPECT_EQ(p->next()->headroom(), 0);
  EXPECT_EQ(p->next()->data_len(), 2048u + kDefaultHeadroom);
  EXPECT_EQ(p->pkt_len(), 5000u);
  EXPECT_EQ(packet_to_bytes(*p), frame);
  free_packet(p);
}

TEST(PacketBytes, ExhaustionAllocatesNothing) {
  auto pool = BufferPool::create({.name = "b", .buffer_count = 2});
  EXPECT_EQ(packet_from_bytes(*pool, bytes_of(5000)), nullptr);
  EXPECT_EQ(pool->stats().in_use, 0u);
  EXPECT_EQ(pool->available(), 2u);
}

TEST(SplitPacketAllocator, HeadersAndPayloadApart) {
  auto a = SplitPacketAllocator::create({.name = "s", .header_buffers = 8, .data_buffers = 8});
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->data_pool().data_room(), 4096u);
  EXPECT_EQ(a->data_pool().headroom(), 0);
  auto frame = bytes_of(14 + 40 + 32 + 9000);
  Packet* p = a->build(frame, 14 + 40 + 32);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->pool_id(), a->header_pool().id());
  EXPECT_EQ(p->data_len(), 86u);
  EXPECT_EQ(p->headroom(), kDefaultHeadroom);
  ASSERT_EQ(p->segment_count(), 4u);  // 9000 = 4096 + 4096 + 808
  for (Packet* s = p->next(); s != nullptr; s = s->next()) {
    EXPECT_EQ(s->pool_id(), a->data_pool().id());
    EXPECT_EQ(s->headroom(), 0);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(s->data()) % 4096, 0u);  // whole pages
    EXPECT_EQ(s->buffer_len(), 4096u);
  }
  EXPECT_EQ(p->next()->data_len(), 4096u);
  EXPECT_EQ(p->pkt_len(), frame.size());
  EXPECT_EQ(packet_to_bytes(*p), frame);
  EXPECT_EQ(a->header_pool().stats().in_use, 1u);
  EXPECT_EQ(a->data_pool().stats().in_use, 3u);
  free_packet(p);
  EXPECT_EQ(a->header_pool().stats().in_use, 0u);
  EXPECT_EQ(a->data_pool().stats().in_use, 0u);
}

TEST(SplitPacketAllocator, ShortFramesAndLongHeaders) {
  auto a = SplitPacketAllocator::create(
      {.name = "s", .header_buffers = 4, .header_room = 128, .data_buffers = 4});
  auto small = bytes_of(60);
  Packet* p = a->build(small, 100);  // header_len past the end: all in the head
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->segment_count(), 1u);
  EXPECT_EQ(packet_to_bytes(*p), small);
  free_packet(p);
  auto big = bytes_of(1000);
  p = a->build(big, 500);  // capped at the header room
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->data_len(), 128u);
  EXPECT_EQ(packet_to_bytes(*p), big);
  free_packet(p);
  p = a->build(big, 0);  // empty head, all payload
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->data_len(), 0u);
  EXPECT_EQ(packet_to_bytes(*p), big);
  free_packet(p);
}

TEST(SplitPacketAllocator, DataExhaustionReleasesTheHeader) {
  auto a = SplitPacketAllocator::create({.name = "s", .header_buffers = 4, .data_buffers = 2});
  EXPECT_EQ(a->build(bytes_of(64 + 3 * 4096), 64), nullptr);
  EXPECT_EQ(a->header_pool().stats().in_use, 0u);
  EXPECT_EQ(a->data_pool().stats().in_use, 0u);
  EXPECT_EQ(a->data_pool().stats().exhausted, 1u);
  Packet* segs[2];
  EXPECT_TRUE(a->alloc_data(segs, 2));
  EXPECT_EQ(segs[0]->tailroom(), 4096u);
  EXPECT_FALSE(a->alloc_data(segs, 1));
  free_packets(segs, 2);
}

}  // namespace
}  // namespace ferry
