#include "port/patch_port.h"

#include <vector>

#include <gtest/gtest.h>

#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"

namespace ferry::port {
namespace {

std::unique_ptr<BufferPool> make_pool(uint32_t n = 256) {
  BufferPool::Config c;
  c.name = "patch-test";
  c.buffer_count = n;
  return BufferPool::create(c);
}

TEST(PatchPortTest, WhatGoesOutOfOneEndComesInTheOther) {
  auto pool = make_pool();
  auto [a, b] = PatchPort::create_pair("a", "b", 2, 64);
  std::vector<uint8_t> bytes(100, 0x5a);
  Packet* out[4];
  for (auto& p : out) {
    p = packet_from_bytes(*pool, bytes);
    ASSERT_NE(p, nullptr);
  }
  out[0]->set_csum_partial(34, 16);
  out[0]->set_gso(kGsoTcpv4, 1448);
  EXPECT_EQ(a->tx_burst(1, out, 4), 4);
  Packet* in[8];
  EXPECT_EQ(b->rx_burst(0, in, 8), 0);  // another queue
  ASSERT_EQ(b->rx_burst(1, in, 8), 4);
  // Offload state passes untouched.
  EXPECT_EQ(in[0]->csum_state(), CsumState::kPartial);
  EXPECT_EQ(in[0]->gso_size(), 1448);
  EXPECT_EQ(packet_to_bytes(*in[3]), bytes);
  EXPECT_EQ(a->queue_stats(1).tx.packets, 4u);
  EXPECT_EQ(a->queue_stats(1).tx.bytes, 400u);
  EXPECT_EQ(b->queue_stats(1).rx.packets, 4u);
  EXPECT_EQ(b->stats().rx.batch[batch_bucket(4)], 1u);
  // And back the other way.
  EXPECT_EQ(b->tx_burst(1, in, 4), 4);
  ASSERT_EQ(a->rx_burst(1, in, 2), 2);
  ASSERT_EQ(a->rx_burst(1, in + 2, 8), 2);
  free_packets(in, 4);
  EXPECT_EQ(pool->available(), pool->capacity());
  EXPECT_NE(a->capabilities() & kCapTxTso4, 0u);
}

TEST(PatchPortTest, FullRingDropsAndCountsTheRest) {
  auto pool = make_pool();
  auto [a, b] = PatchPort::create_pair("a", "b", 1, 4);
  Packet* out[6];
  std::vector<uint8_t> bytes(60, 1);
  for (auto& p : out)
    p = packet_from_bytes(*pool, bytes);
  EXPECT_EQ(a->tx_burst(0, out, 6), 4);
  EXPECT_EQ(a->queue_stats(0).tx.drops[static_cast<unsigned>(DropReason::kRingFull)], 2u);
  EXPECT_EQ(pool->available(), pool->capacity() - 4);
  // A bad queue frees everything.
  Packet* more[1] = {packet_from_bytes(*pool, bytes)};
  EXPECT_EQ(a->tx_burst(3, more, 1), 0);
  // Packets still in the cable are freed with the last end.
  a.reset();
  b.reset();
  EXPECT_EQ(pool->available(), pool->capacity());
}

TEST(PortStatsTest, BatchBucketsAndFormat) {
  EXPECT_EQ(batch_bucket(0), 0u);
  EXPECT_EQ(batch_bucket(1), 1u);
  EXPECT_EQ(batch_bucket(3), 2u);
  EXPECT_EQ(batch_bucket(32), 6u);
  EXPECT_EQ(batch_bucket(64), 7u);
  EXPECT_EQ(batch_bucket(500), 7u);
  QueueStats s;
  s.rx.packets = 3;
  s.tx.drop(DropReason::kRingFull, 2);
  std::string text = format_stats("port x", s);
  EXPECT_NE(text.find("drop ring_full 2"), std::string::npos);
  EXPECT_STREQ(to_string(DropReason::kOffloadUnsupported), "offload_unsupported");
}

}  // namespace
}  // namespace ferry::port
