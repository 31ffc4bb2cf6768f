// The virtio-net header handling of the kernel ports, and their set-up errors (no
// privileges needed: interfaces that do not exist fail before anything is opened).

#include "port/vnet_offload.h"

#include <random>

#include <gtest/gtest.h>

#include "../csum/test_packets.h"
#include "csum/offload_state.h"
#include "csum/packet_checksum.h"
#include "packet/buffer_pool.h"
#include "port/af_packet_port.h"
#include "port/af_xdp_port.h"
#include "port/tap_port.h"

namespace ferry::port {
namespace {

using csum::testing::Frame;
using csum::testing::IpSpec;
using csum::testing::TestPacket;

virtio_net_hdr_v1 tso_header(uint16_t csum_start, uint16_t gso_size) {
  virtio_net_hdr_v1 h{};
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
  h.hdr_len = static_cast<uint16_t>(csum_start + 20);
  h.gso_size = gso_size;
  h.csum_start = csum_start;
  h.csum_offset = 16;
  return h;
}

// What a TAP with offloads hands over for an iperf3 stream: TSO, NEEDS_CSUM at the TCP
// checksum, gso_size 1448.
TEST(VnetOffload, TsoHeaderFromKernel) {
  std::mt19937 rng(1);
  Frame f = csum::testing::make_frame(IpSpec{false, L4Type::kTcp, 8000}, rng);
  TestPacket p(f.bytes);
  virtio_net_hdr_v1 h = tso_header(34, 1448);
  ASSERT_TRUE(vnet_to_packet(&h, static_cast<uint32_t>(f.bytes.size()), &p.head()));
  EXPECT_EQ(p.head().gso_type(), kGsoTcpv4);
  EXPECT_EQ(p.head().gso_size(), 1448);
  EXPECT_EQ(p.head().csum_state(), CsumState::kPartial);
  EXPECT_EQ(p.head().csum_start(), 34);
  EXPECT_EQ(p.head().csum_offset(), 16);

  // And back: the legacy 10 bytes of the v1 header are what AF_PACKET reads.
  virtio_net_hdr_v1 back;
  ASSERT_TRUE(packet_to_vnet(p.head(), &back));
  EXPECT_EQ(0, std::memcmp(&back, &h, kVnetHdrLegacyLen));
}

TEST(VnetOffload, DataValidAndPlain) {
  std::mt19937 rng(2);
  Frame f = csum::testing::make_frame(IpSpec{true, L4Type::kUdp, 200}, rng);
  TestPacket p(f.bytes);
  virtio_net_hdr_v1 h{};
  h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
  ASSERT_TRUE(vnet_to_packet(&h, static_cast<uint32_t>(f.bytes.size()), &p.head()));
  EXPECT_EQ(p.head().csum_state(), CsumState::kUnnecessary);
  EXPECT_FALSE(p.head().is_gso());
  h = {};
  TestPacket q(f.bytes);
  ASSERT_TRUE(vnet_to_packet(&h, static_cast<uint32_t>(f.bytes.size()), &q.head()));
  EXPECT_EQ(q.head().csum_state(), CsumState::kNone);
}

TEST(VnetOffload, BadHeadersRejected) {
  std::mt19937 rng(3);
  Frame f = csum::testing::make_frame(IpSpec{false, L4Type::kTcp, 100}, rng);
  uint32_t len = static_cast<uint32_t>(f.bytes.size());
  struct Bad {
    virtio_net_hdr_v1 h;
    virtio::NetHdrError want;
  };
  virtio_net_hdr_v1 past = tso_header(34, 1448);
  past.csum_start = static_cast<uint16_t>(len);
  virtio_net_hdr_v1 field = tso_header(34, 1448);
  field.csum_offset = static_cast<uint16_t>(len);
  virtio_net_hdr_v1 zero = tso_header(34, 0);
  virtio_net_hdr_v1 type = tso_header(34, 1448);
  type.gso_type = 7;
  for (const Bad& b : {Bad{past, virtio::NetHdrError::kCsumStartPastEnd},
                       Bad{field, virtio::NetHdrError::kCsumOffsetPastEnd},
                       Bad{zero, virtio::NetHdrError::kGsoSizeZero},
                       Bad{type, virtio::NetHdrError::kUnknownGsoType}}) {
    TestPacket p(f.bytes);
    virtio::NetHdrError e;
    EXPECT_FALSE(vnet_to_packet(&b.h, len, &p.head(), &e));
    EXPECT_EQ(e, b.want) << virtio::to_string(e);
  }
}

TEST(VnetOffload, FitTxFinishesChecksumForPortWithoutCsum) {
  std::mt19937 rng(4);
  for (bool v6 : {false, true}) {
    for (L4Type l4 : {L4Type::kTcp, L4Type::kUdp}) {
      Frame f = csum::testing::make_frame(IpSpec{v6, l4, 700}, rng);
      TestPacket p(f, {40, 300, static_cast<uint32_t>(f.bytes.size()) - 340});
      ASSERT_EQ(csum::to_partial(p.head()), csum::CsumError::kOk);
      QueueStats s;
      DropReason r = DropReason::kCount;
      ASSERT_TRUE(fit_tx_offloads(&p.head(), kCapTxTso4, s, &r));
      EXPECT_EQ(p.head().csum_state(), CsumState::kNone);
      EXPECT_EQ(csum::verify_l4(p.head()), csum::CsumError::kOk);
      EXPECT_EQ(s.csum_filled, 1u);
      // A port that takes partial checksums gets them as they are.
      TestPacket q(f);
      ASSERT_EQ(csum::to_partial(q.head()), csum::CsumError::kOk);
      ASSERT_TRUE(fit_tx_offloads(&q.head(), kCapTxCsum, s, &r));
      EXPECT_EQ(q.head().csum_state(), CsumState::kPartial);
      EXPECT_EQ(s.csum_filled, 1u);
    }
  }
}

TEST(VnetOffload, FitTxGso) {
  std::mt19937 rng(5);
  Frame f = csum::testing::make_frame(IpSpec{false, L4Type::kTcp, 4000}, rng);
  QueueStats s;
  DropReason r = DropReason::kCount;
  {
    TestPacket p(f.bytes);
    p.head().set_csum_partial(34, 16);
    p.head().set_gso(kGsoTcpv4 | kGsoTcpEcn, 1448);
    EXPECT_FALSE(fit_tx_offloads(&p.head(), kCapTxCsum | kCapTxTso6, s, &r));
    EXPECT_EQ(r, DropReason::kOffloadUnsupported);
    ASSERT_TRUE(fit_tx_offloads(&p.head(), kCapTxCsum | kCapTxTso4, s, &r));
    EXPECT_EQ(p.head().gso_type(), kGsoTcpv4);  // ECN cleared: the port does not know it
    p.head().set_gso(kGsoTcpv4 | kGsoTcpEcn, 1448);
    ASSERT_TRUE(fit_tx_offloads(&p.head(), kCapTxCsum | kCapTxTso4 | kCapTxEcn, s, &r));
    EXPECT_EQ(p.head().gso_type(), kGsoTcpv4 | kGsoTcpEcn);
  }
  EXPECT_TRUE(gso_accepted(kGsoUdpL4, kCapTxUso));
  EXPECT_FALSE(gso_accepted(kGsoUdpL4, kCapTxUfo));
  EXPECT_TRUE(gso_accepted(kGsoUdp, kCapTxUfo));
  EXPECT_TRUE(gso_accepted(kGsoTcpv6, kCapTxTso6));
  EXPECT_FALSE(gso_accepted(kGsoTcpv4 | kGsoUdpTunnel, 0));
  // Tunnel GSO cannot be written as a virtio-net header.
  TestPacket t(f.bytes);
  t.head().set_csum_partial(34, 16);
  t.head().set_gso(kGsoTcpv4 | kGsoUdpTunnel, 1400);
  virtio_net_hdr_v1 h;
  EXPECT_FALSE(packet_to_vnet(t.head(), &h));
}

class KernelPortErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    BufferPool::Config c;
    c.name = "kport-test";
    c.buffer_count = 64;
    pool_ = BufferPool::create(c);
    ASSERT_TRUE(pool_);
  }
  std::unique_ptr<BufferPool> pool_;
};

TEST_F(KernelPortErrors, MissingInterfaceOrPool) {
  std::string error;
  AfPacketPortConfig ap;
  ap.ifname = "ferry-nonexist";
  ap.pool = pool_.get();
  EXPECT_EQ(AfPacketPort::create(ap, &error), nullptr);
  EXPECT_NE(error.find("ferry-nonexist"), std::string::npos) << error;

  AfXdpPortConfig xp;
  xp.ifname = "ferry-nonexist";
  xp.pool = pool_.get();
  error.clear();
  EXPECT_EQ(AfXdpPort::create(xp, &error), nullptr);
  EXPECT_FALSE(error.empty());

  TapPortConfig tp;
  error.clear();
  EXPECT_EQ(TapPort::create(tp, &error), nullptr);  // no pool
  EXPECT_NE(error.find("pool"), std::string::npos) << error;
  tp.pool = pool_.get();
  tp.ifname = "a-name-far-too-long-for-linux";
  error.clear();
  EXPECT_EQ(TapPort::create(tp, &error), nullptr);
  EXPECT_NE(error.find("too long"), std::string::npos) << error;
}

}  // namespace
}  // namespace ferry::port
