#include "virtio/net_header.h"

#include <cstring>
#include <vector>

#include <sys/mman.h>

#include <gtest/gtest.h>

#include "test_memory.h"
#include "virtio/features.h"
#include "virtio/split_virtqueue.h"
#include "virtio/split_virtqueue_driver.h"

namespace ferry::virtio {
namespace {

struct PacketBuf {
  PacketBuf() {
    p.init(buf, sizeof(buf), kDefaultHeadroom, kNoPool);
    p.append(200);
  }
  alignas(64) uint8_t buf[2048] = {};
  Packet p;
};

virtio_net_hdr_v1 hdr(uint8_t flags, uint8_t gso_type, uint16_t gso_size, uint16_t start,
                      uint16_t offset) {
  virtio_net_hdr_v1 h = {};
  h.flags = flags;
  h.gso_type = gso_type;
  h.gso_size = gso_size;
  h.csum_start = start;
  h.csum_offset = offset;
  return h;
}

TEST(NetHeader, Sizes) {
  EXPECT_EQ(net_header_size(0), 10u);
  EXPECT_EQ(net_header_size(feature_bit(VIRTIO_NET_F_MRG_RXBUF)), 12u);
  EXPECT_EQ(net_header_size(feature_bit(VIRTIO_F_VERSION_1)), 12u);
  EXPECT_EQ(
      net_header_size(feature_bit(VIRTIO_F_VERSION_1) | feature_bit(VIRTIO_NET_F_HASH_REPORT)),
      20u);
}

TEST(NetHeader, TsoRoundTrip) {
  for (uint8_t type : {uint8_t{VIRTIO_NET_HDR_GSO_TCPV4}, uint8_t{VIRTIO_NET_HDR_GSO_TCPV6},
                       uint8_t{VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN}}) {
    PacketBuf b;
    b.buf[kDefaultHeadroom + 34 + 12] = 0x80;  // TCP data offset 8 words: 32-byte header
    virtio_net_hdr_v1 h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, type, 1448, 34, 16);
    ASSERT_EQ(header_to_packet(h, 200, &b.p), NetHdrError::kNone);
    EXPECT_EQ(b.p.csum_state(), CsumState::kPartial);
    EXPECT_EQ(b.p.csum_start(), 34);
    EXPECT_EQ(b.p.csum_offset(), 16);
    EXPECT_EQ(b.p.gso_size(), 1448);
    uint16_t want = (type & 0x7f) == VIRTIO_NET_HDR_GSO_TCPV4 ? kGsoTcpv4 : kGsoTcpv6;
    if (type & VIRTIO_NET_HDR_GSO_ECN) want |= kGsoTcpEcn;
    EXPECT_EQ(b.p.gso_type(), want);
    virtio_net_hdr_v1 back;
    ASSERT_EQ(packet_to_header(b.p, 3, &back), NetHdrError::kNone);
    EXPECT_EQ(back.flags, h.flags);
    EXPECT_EQ(back.gso_type, h.gso_type);
    EXPECT_EQ(back.gso_size, h.gso_size);
    EXPECT_EQ(back.csum_start, h.csum_start);
    EXPECT_EQ(back.csum_offset, h.csum_offset);
    EXPECT_EQ(back.num_buffers, 3);
    EXPECT_EQ(back.hdr_len, 34 + 32);
  }
}

TEST(NetHeader, UdpRoundTrips) {
  for (uint8_t type : {uint8_t{VIRTIO_NET_HDR_GSO_UDP}, uint8_t{VIRTIO_NET_HDR_GSO_UDP_L4}}) {
    PacketBuf b;
    virtio_net_hdr_v1 h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, type, 100, 34, 6);
    ASSERT_EQ(header_to_packet(h, 200, &b.p), NetHdrError::kNone);
    EXPECT_EQ(b.p.gso_type(), type == VIRTIO_NET_HDR_GSO_UDP ? kGsoUdp : kGsoUdpL4);
    virtio_net_hdr_v1 back;
    ASSERT_EQ(packet_to_header(b.p, 1, &back), NetHdrError::kNone);
    EXPECT_EQ(back.gso_type, type);
    EXPECT_EQ(back.hdr_len, 42);
  }
}

TEST(NetHeader, DataValidAndNone) {
  PacketBuf b;
  ASSERT_EQ(header_to_packet(hdr(VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0), 200, &b.p),
            NetHdrError::kNone);
  EXPECT_EQ(b.p.csum_state(), CsumState::kUnnecessary);
  EXPECT_FALSE(b.p.is_gso());
  virtio_net_hdr_v1 back;
  ASSERT_EQ(packet_to_header(b.p, 1, &back), NetHdrError::kNone);
  EXPECT_EQ(back.flags, VIRTIO_NET_HDR_F_DATA_VALID);
  ASSERT_EQ(header_to_packet(hdr(0, 0, 0, 0, 0), 200, &b.p), NetHdrError::kNone);
  EXPECT_EQ(b.p.csum_state(), CsumState::kNone);
  b.p.set_csum_complete(14, 0x1234);  // no virtio equivalent: sent as "nothing known"
  ASSERT_EQ(packet_to_header(b.p, 1, &back), NetHdrError::kNone);
  EXPECT_EQ(back.flags, 0);
}

TEST(NetHeader, RscInfo) {
  PacketBuf b;
  virtio_net_hdr_v1 h = hdr(VIRTIO_NET_HDR_F_RSC_INFO | VIRTIO_NET_HDR_F_DATA_VALID,
                            VIRTIO_NET_HDR_GSO_TCPV4, 1448, 5, 2);
  ASSERT_EQ(header_to_packet(h, 200, &b.p), NetHdrError::kNone);
  EXPECT_TRUE(b.p.has_rsc_info());
  EXPECT_EQ(b.p.rsc_coalesced(), 5);
  EXPECT_EQ(b.p.rsc_dup_acks(), 2);
  EXPECT_EQ(b.p.csum_state(), CsumState::kUnnecessary);
  virtio_net_hdr_v1 back;
  ASSERT_EQ(packet_to_header(b.p, 1, &back), NetHdrError::kNone);
  EXPECT_EQ(back.flags, h.flags);
  EXPECT_EQ(back.csum_start, 5);
  EXPECT_EQ(back.csum_offset, 2);
  EXPECT_EQ(back.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
}

TEST(NetHeader, HashReport) {
  PacketBuf b;
  b.p.set_rss_hash(0xdeadbeef);
  virtio_net_hdr_v1_hash h;
  ASSERT_EQ(packet_to_hash_header(b.p, 1, VIRTIO_NET_HASH_REPORT_TCPv4, &h), NetHdrError::kNone);
  EXPECT_EQ(h.hash_value, 0xdeadbeefu);
  EXPECT_EQ(h.hash_report, VIRTIO_NET_HASH_REPORT_TCPv4);
  PacketBuf c;
  uint16_t report = 0;
  ASSERT_EQ(hash_header_to_packet(h, 200, &c.p, &report), NetHdrError::kNone);
  EXPECT_EQ(report, VIRTIO_NET_HASH_REPORT_TCPv4);
  EXPECT_TRUE(c.p.has_rss_hash());
  EXPECT_EQ(c.p.rss_hash(), 0xdeadbeefu);
  h.hash_report = 10;
  EXPECT_EQ(hash_header_to_packet(h, 200, &c.p, &report), NetHdrError::kUnknownHashReport);
  PacketBuf none;  // no hash: reported as NONE
  ASSERT_EQ(packet_to_hash_header(none.p, 1, VIRTIO_NET_HASH_REPORT_TCPv4, &h), NetHdrError::kNone);
  EXPECT_EQ(h.hash_report, VIRTIO_NET_HASH_REPORT_NONE);
}

TEST(NetHeader, ValidationReasons) {
  const uint8_t kCsum = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  struct Case {
    virtio_net_hdr_v1 h;
    uint32_t len;
    NetHdrError want;
  } cases[] = {
      {hdr(kCsum, 0, 0, 200, 0), 200, NetHdrError::kCsumStartPastEnd},
      {hdr(kCsum, 0, 0, 0xffff, 0xffff), 200, NetHdrError::kCsumStartPastEnd},
      {hdr(kCsum, 0, 0, 190, 16), 200, NetHdrError::kCsumOffsetPastEnd},
      {hdr(kCsum, 0, 0, 34, 0xffff), 200, NetHdrError::kCsumOffsetPastEnd},
      {hdr(kCsum, 0, 0, 182, 16), 200, NetHdrError::kNone},  // field ends exactly at the end
      {hdr(kCsum | VIRTIO_NET_HDR_F_RSC_INFO, 0, 0, 34, 16), 200, NetHdrError::kCsumConflict},
      {hdr(kCsum, VIRTIO_NET_HDR_GSO_TCPV4, 0, 34, 16), 200, NetHdrError::kGsoSizeZero},
      {hdr(kCsum, VIRTIO_NET_HDR_GSO_TCPV4, 0xffff, 34, 16), 200, NetHdrError::kGsoSizeInvalid},
      {hdr(kCsum, 2, 100, 34, 16), 200, NetHdrError::kUnknownGsoType},
      {hdr(kCsum, 6, 100, 34, 16), 200, NetHdrError::kUnknownGsoType},
      {hdr(kCsum, 0x80, 100, 34, 16), 200, NetHdrError::kUnknownGsoType},
      {hdr(0, VIRTIO_NET_HDR_GSO_UDP_L4, 100, 34, 6), 200, NetHdrError::kGsoWithoutCsum},
      {hdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 100, 0, 0), 200, NetHdrError::kNone},  // Linux probes
      {hdr(kCsum, VIRTIO_NET_HDR_GSO_TCPV6, 100, 54, 6), 200, NetHdrError::kGsoCsumOffsetMismatch},
      {hdr(kCsum, VIRTIO_NET_HDR_GSO_UDP_L4, 100, 34, 16), 200,
       NetHdrError::kGsoCsumOffsetMismatch},
      {hdr(kCsum, VIRTIO_NET_HDR_GSO_UDP_L4, 1, 34, 6), 200, NetHdrError::kTooManySegments},
      {hdr(kCsum, VIRTIO_NET_HDR_GSO_UDP_L4, 3, 34, 6), 200, NetHdrError::kNone},
  };
  for (const Case& c : cases) {
    PacketBuf b;
    EXPECT_EQ(header_to_packet(c.h, c.len, &b.p), c.want)
        << to_string(c.want) << " start " << c.h.csum_start << " off " << c.h.csum_offset;
  }
  PacketBuf t;
  t.p.set_gso(kGsoTcpv4 | kGsoUdpTunnel, 1400);
  virtio_net_hdr_v1 back;
  EXPECT_EQ(packet_to_header(t.p, 1, &back), NetHdrError::kGsoNotRepresentable);
  t.p.set_gso(kGsoTcpv4 | kGsoTcpv6, 1400);
  EXPECT_EQ(packet_to_header(t.p, 1, &back), NetHdrError::kGsoNotRepresentable);
  for (unsigned i = 0; i < kNetHdrErrorCount; i++) {
    EXPECT_STRNE(to_string(static_cast<NetHdrError>(i)), "unknown");
  }
}

// The header may be spread over several descriptors (DPDK CVE-2022-2132): it is copied
// together, and a chain shorter than the header is reported, not read past.
TEST(NetHeader, HeaderSpreadOverDescriptors) {
  test::TestMemory m;
  uint64_t desc = m.alloc(SplitVirtqueue::desc_bytes(16), 16);
  uint64_t avail = m.alloc(SplitVirtqueue::avail_bytes(16), 2);
  uint64_t used = m.alloc(SplitVirtqueue::used_bytes(16), 4);
  SplitVirtqueueDriver::Options o;
  o.size = 16;
  o.desc_gpa = desc;
  o.avail_gpa = avail;
  o.used_gpa = used;
  SplitVirtqueueDriver drv(m.mem, o);
  SplitVirtqueueConfig cfg;
  std::string error;
  ASSERT_TRUE(SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, 16, desc, avail,
                                       used, &cfg, &error));
  SplitVirtqueue q(&m.mem, cfg);

  virtio_net_hdr_v1 h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 34, 16);
  h.num_buffers = 1;
  const uint8_t* raw = reinterpret_cast<const uint8_t*>(&h);
  // 1 + 3 + 8 bytes in three descriptors, the last crossing the region border.
  uint64_t a = test::TestMemory::kBase + 0x80000, b = a + 0x100, c = test::TestMemory::kBorder - 4;
  m.write(a, raw, 1);
  m.write(b, raw + 1, 3);
  m.write(c, raw + 4, 8);
  DriverBuffer bufs[3] = {{a, 1, false}, {b, 3, false}, {c, 200, false}};
  drv.add_chain(bufs, 3);
  DriverBuffer tiny[2] = {{a, 1, false}, {b, 3, false}};
  drv.add_chain(tiny, 2);
  drv.publish();
  DescChain chain;
  ASSERT_EQ(q.pop(&chain), PopStatus::kOk);
  virtio_net_hdr_v1 got;
  ASSERT_EQ(read_net_header(chain, &got, sizeof(got)), NetHdrError::kNone);
  EXPECT_EQ(std::memcmp(&got, &h, sizeof(h)), 0);
  ASSERT_EQ(q.pop(&chain), PopStatus::kOk);
  EXPECT_EQ(read_net_header(chain, &got, sizeof(got)), NetHdrError::kHeaderTruncated);
}

TEST(NetHeader, StoreHeaderWritesOnlyChangedFields) {
  // The driver's header sits on a page made read-only once it holds the values: storing
  // the same header again must not write (it would fault), a different one must.
  long page = sysconf(_SC_PAGESIZE);
  void* mem = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* guest = static_cast<virtio_net_hdr_v1*>(mem);
  std::memset(guest, 0xee, sizeof(*guest));
  PacketBuf b;
  b.p.set_csum_partial(34, 16);
  virtio_net_hdr_v1 h;
  ASSERT_EQ(packet_to_header(b.p, 1, &h), NetHdrError::kNone);
  store_header(h, guest);
  EXPECT_EQ(std::memcmp(guest, &h, sizeof(h)), 0);
  ASSERT_EQ(mprotect(mem, page, PROT_READ), 0);
  store_header(h, guest);  // the same values: no store
  ASSERT_EQ(mprotect(mem, page, PROT_READ | PROT_WRITE), 0);
  virtio_net_hdr_v1 other = h;
  other.num_buffers = htole16(3);
  store_header(other, guest);
  EXPECT_EQ(std::memcmp(guest, &other, sizeof(other)), 0);
  munmap(mem, page);
}

}  // namespace
}  // namespace ferry::virtio
