#include "packet/header_align.h"

#include <vector>

#include <gtest/gtest.h>

#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "packet/split_allocator.h"

namespace ferry {
namespace {

bool aligned(const uint8_t* p) {
  return reinterpret_cast<uintptr_t>(p) % 4 == 0;
}

// Ethernet + IPv4 + UDP + payload, the bytes only need to be recognisable.
std::vector<uint8_t> inner_frame(size_t payload = 64) {
  std::vector<uint8_t> f(14 + 20 + 8 + payload);
  for (size_t i = 0; i < f.size(); i++)
    f[i] = static_cast<uint8_t>(i * 7 + 3);
  f[12] = 0x08;
  f[13] = 0x00;
  f[14] = 0x45;
  return f;
}

class HeaderAlign : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = BufferPool::create({.name = "align", .buffer_count = 16});
    ASSERT_NE(pool_, nullptr);
  }
  Packet* make(const std::vector<uint8_t>& frame) {
    Packet* p = packet_from_bytes(*pool_, frame);
    p->set_l3_offset(14);
    p->set_l4_offset(34);
    return p;
  }
  // Pushes an outer header of outer_len bytes with the outer IP at outer_l3, checks
  // that it is aligned and the inner frame intact, then strips it again and checks the
  // inner IP is aligned again. Returns the realignments counted.
  uint64_t push_and_strip(uint16_t outer_len, uint16_t outer_l3, size_t payload = 64) {
    AlignStats stats;
    auto frame = inner_frame(payload);
    Packet* p = make(frame);
    EXPECT_TRUE(aligned(p->data() + p->l3_offset()));
    uint8_t* outer = push_front(*p, outer_len, outer_l3, stats);
    EXPECT_NE(outer, nullptr);
    if (outer == nullptr) return 0;
    EXPECT_EQ(outer, p->data());
    std::memset(outer, 0xee, outer_len);
    EXPECT_TRUE(aligned(p->data() + outer_l3)) << "outer " << outer_len;
    EXPECT_EQ(p->l3_offset(), outer_len + 14);  // the inner IP, same bytes
    EXPECT_EQ(p->pkt_len(), frame.size() + outer_len);
    auto bytes = packet_to_bytes(*p);
    EXPECT_TRUE(std::equal(frame.begin(), frame.end(), bytes.begin() + outer_len));

    EXPECT_TRUE(strip_front(*p, outer_len, 14, stats));
    EXPECT_TRUE(aligned(p->data() + 14)) << "inner after strip of " << outer_len;
    EXPECT_EQ(p->l3_offset(), 14);
    EXPECT_EQ(p->l4_offset(), 34);
    EXPECT_EQ(packet_to_bytes(*p), frame);
    EXPECT_EQ(stats.no_room, 0u);
    free_packet(p);
    return stats.realigned;
  }
  std::unique_ptr<BufferPool> pool_;
};

TEST_F(HeaderAlign, VxlanOverIpv4) {
  // Outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 = 50: inner IP at 64 vs outer at 14.
  EXPECT_EQ(push_and_strip(14 + 20 + 8 + 8, 14), 2u);
}

TEST_F(HeaderAlign, VxlanOverIpv6) {
  EXPECT_EQ(push_and_strip(14 + 40 + 8 + 8, 14), 2u);
}

TEST_F(HeaderAlign, GreWithInnerEthernet) {
  // Transparent Ethernet bridging over GRE (with key): 14 + 20 + 8 = 42.
  EXPECT_EQ(push_and_strip(14 + 20 + 8, 14), 2u);
  // Plain GRE header: 14 + 20 + 4 = 38.
  EXPECT_EQ(push_and_strip(14 + 20 + 4, 14), 2u);
}

TEST_F(HeaderAlign, VlanTaggedOuter) {
  // Ethernet + VLAN puts the outer IP at 18.
  EXPECT_EQ(push_and_strip(14 + 4 + 20 + 8 + 8, 18), 2u);
}

TEST_F(HeaderAlign, GreCarryingIpStaysAligned) {
  // An IP packet without Ethernet (e.g. after the router stripped it) inside outer
  // Ethernet + IPv4 + GRE: 38 bytes, a multiple of 4 away from the inner IP at 38 + 0.
  AlignStats stats;
  Packet* p = make(inner_frame());
  ASSERT_TRUE(strip_front(*p, 14, 0, stats));  // drop Ethernet: IP now at data()
  EXPECT_TRUE(aligned(p->data()));
  EXPECT_EQ(stats.realigned, 0u);  // stripping alone never moves the remaining bytes
  EXPECT_EQ(p->l3_offset(), 0);
  uint8_t* outer = push_front(*p, 14 + 20 + 4, 14, stats);
  ASSERT_NE(outer, nullptr);
  EXPECT_TRUE(aligned(p->data() + 14));
  EXPECT_TRUE(aligned(p->data() + 38));  // inner IP too
  EXPECT_EQ(stats.realigned, 0u);        // no move for the push either
  free_packet(p);
}

TEST_F(HeaderAlign, HeadroomHoldsEthVlanIpv6UdpGeneve) {
  // 14 + 4 + 40 + 8 + 8 = 74 bytes of outer headers, plus Geneve options up to 54 bytes.
  static_assert(kDefaultHeadroom >= 128);
  for (uint16_t opts : {0, 8, 24, 54}) {
    AlignStats stats;
    Packet* p = make(inner_frame());
    uint16_t n = static_cast<uint16_t>(14 + 4 + 40 + 8 + 8 + opts);
    ASSERT_NE(push_front(*p, n, 18, stats), nullptr) << opts;
    EXPECT_TRUE(aligned(p->data() + 18));
    EXPECT_EQ(stats.no_room, 0u);
    free_packet(p);
  }
}

TEST_F(HeaderAlign, PushFailsWithoutHeadroom) {
  AlignStats stats;
  Packet* p = make(inner_frame());
  auto before = packet_to_bytes(*p);
  EXPECT_EQ(push_front(*p, kDefaultHeadroom + 1, 14, stats), nullptr);
  EXPECT_EQ(packet_to_bytes(*p), before);
  EXPECT_EQ(p->l3_offset(), 14);
  EXPECT_FALSE(strip_front(*p, static_cast<uint16_t>(p->data_len() + 1), 14, stats));
  free_packet(p);
}

TEST_F(HeaderAlign, NoRoomPushesUnalignedAndCounts) {
  // A buffer with exactly the headroom for the push and no tailroom.
  alignas(64) uint8_t buf[64 + 100];
  Packet p;
  p.init(buf, 50 + 2 + 100, 52, kNoPool);  // data() at buf + 52: 4-aligned
  p.append(100);
  ASSERT_EQ(p.tailroom(), 0u);
  ASSERT_EQ(p.headroom(), 52);
  AlignStats stats;
  // data - 50 + 14 = buf + 16: aligned, no move.
  ASSERT_NE(push_front(p, 50, 14, stats), nullptr);
  EXPECT_EQ(stats.realigned, 0u);
  p.adj(50);
  // data - 52 + 14 = buf + 14: misaligned; moving back needs 54, forward needs tailroom.
  ASSERT_NE(push_front(p, 52, 14, stats), nullptr);
  EXPECT_EQ(stats.no_room, 1u);
  EXPECT_FALSE(aligned(p.data() + 14));
}

TEST_F(HeaderAlign, AlignNetworkHeaderResults) {
  AlignStats stats;
  Packet* p = make(inner_frame());
  EXPECT_EQ(align_network_header(*p, stats), AlignResult::kAligned);
  p->set_l3_offset(kNoOffset);
  EXPECT_EQ(align_network_header(*p, stats), AlignResult::kNoHeader);
  p->set_l3_offset(static_cast<uint16_t>(p->data_len()));
  EXPECT_EQ(align_network_header(*p, stats), AlignResult::kNotInHead);
  EXPECT_EQ(stats.not_in_head, 1u);
  auto before = packet_to_bytes(*p);
  p->set_l3_offset(16);  // 2 bytes off
  EXPECT_EQ(align_network_header(*p, stats), AlignResult::kRealigned);
  EXPECT_TRUE(aligned(p->data() + 16));
  EXPECT_EQ(packet_to_bytes(*p), before);
  EXPECT_EQ(stats.realigned, 1u);
  EXPECT_EQ(stats.bytes_moved, before.size());
  p->set_l3_offset(17);  // 1 byte off
  EXPECT_EQ(align_network_header(*p, stats), AlignResult::kRealigned);
  EXPECT_TRUE(aligned(p->data() + 17));
  EXPECT_EQ(packet_to_bytes(*p), before);
  free_packet(p);
}

TEST_F(HeaderAlign, StripAdjustsOffsetsAndChecksumStart) {
  AlignStats stats;
  Packet* p = make(inner_frame());
  ASSERT_NE(push_front(*p, 50, 14, stats), nullptr);
  p->set_inner_l2_offset(50);
  p->set_inner_l3_offset(64);
  p->set_l3_offset(14);
  p->set_l4_offset(34);
  p->set_csum_partial(84, 6);
  ASSERT_TRUE(strip_front(*p, 50, 14, stats));
  EXPECT_EQ(p->l3_offset(), kNoOffset);  // pointed into the stripped header
  EXPECT_EQ(p->l4_offset(), kNoOffset);
  EXPECT_EQ(p->inner_l2_offset(), 0);
  EXPECT_EQ(p->inner_l3_offset(), 14);
  EXPECT_EQ(p->csum_state(), CsumState::kPartial);
  EXPECT_EQ(p->csum_start(), 34);
  p->set_csum_complete(2, 0x1234);
  ASSERT_TRUE(strip_front(*p, 4, kNoOffset, stats));
  EXPECT_EQ(p->csum_state(), CsumState::kNone);
  free_packet(p);
}

// With header split, realignment moves only the header buffer; the payload stays put.
TEST(HeaderAlignSplit, OnlyHeaderBytesMove) {
  auto alloc =
      SplitPacketAllocator::create({.name = "split", .header_buffers = 8, .data_buffers = 8});
  ASSERT_NE(alloc, nullptr);
  auto frame = inner_frame(3000);
  Packet* p = alloc->build(frame, 42);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->segment_count(), 2u);
  const uint8_t* payload = p->next()->data();
  p->set_l3_offset(14);
  AlignStats stats;
  ASSERT_NE(push_front(*p, 50, 14, stats), nullptr);
  EXPECT_TRUE(aligned(p->data() + 14));
  EXPECT_EQ(stats.realigned, 1u);
  EXPECT_EQ(stats.bytes_moved, 42u);  // the header bytes only
  EXPECT_EQ(p->next()->data(), payload);
  ASSERT_TRUE(strip_front(*p, 50, 14, stats));
  EXPECT_EQ(stats.bytes_moved, 84u);
  EXPECT_EQ(packet_to_bytes(*p), frame);
  free_packet(p);
  EXPECT_EQ(alloc->header_pool().stats().in_use, 0u);
  EXPECT_EQ(alloc->data_pool().stats().in_use, 0u);
}

}  // namespace
}  // namespace ferry
