#include "offload/tunnel.h"

#include <memory>
#include <ostream>
#include <vector>

#include <gtest/gtest.h>

#include "csum/offload_state.h"
#include "csum/packet_checksum.h"
#include "gso_frames.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "packet/segment_reader.h"
#include "proto/parser.h"
#include "proto/vxlan.h"

namespace ferry::offload {
namespace {

using csum::CsumError;
using testing::Bytes;
using testing::FlowSpec;

class TunnelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BufferPool::Config c;
    c.name = "tunnel_test";
    c.buffer_count = 512;
    pool_ = BufferPool::create(c);
    ASSERT_NE(pool_, nullptr);
  }
  void TearDown() override { EXPECT_EQ(pool_->stats().in_use, 0u); }

  Packet* make(const Bytes& frame, const std::vector<uint32_t>& lens = {}) {
    Packet* p = testing::chain_from(*pool_, frame, lens);
    EXPECT_EQ(proto::parse_packet(*p), proto::ParseError::kOk);
    if (p->packet_type().is_ipv4()) csum::fill_ipv4_header(*p);
    return p;
  }
  // A TCP or UDP frame with its checksums filled.
  Packet* make_filled(const FlowSpec& s, const std::vector<uint32_t>& lens = {}) {
    Packet* p = make(testing::flow_frame(s), lens);
    EXPECT_EQ(csum::fill_all(*p), CsumError::kOk);
    return p;
  }

  static TunnelConfig config(TunnelKind kind, bool v6, bool csum) {
    TunnelConfig t;
    t.kind = kind;
    t.ipv6 = v6;
    t.src_mac = proto::MacAddress::from_u64(0x020000000001);
    t.dst_mac = proto::MacAddress::from_u64(0x020000000002);
    t.src_ip4 = {192, 168, 1, 1};
    t.dst_ip4 = {192, 168, 1, 2};
    t.src_ip6.bytes[0] = 0xfd;
    t.src_ip6.bytes[15] = 1;
    t.dst_ip6.bytes[0] = 0xfd;
    t.dst_ip6.bytes[15] = 2;
    t.vni = 0x123456;
    t.udp_csum = csum;
    t.gre_csum = csum;
    t.gre_key = true;
    return t;
  }

  std::unique_ptr<BufferPool> pool_;
};

bool aligned(const Packet& p, uint16_t off) {
  return (reinterpret_cast<uintptr_t>(p.data() + off) & 3) == 0;
}

struct Case {
  TunnelKind kind;
  bool outer_v6;
  bool inner_v6;
  bool csum;
};

class TunnelRoundTrip : public TunnelTest, public ::testing::WithParamInterface<Case> {};

TEST_P(TunnelRoundTrip, EncapParsesVerifiesAndDecapRestores) {
  const Case c = GetParam();
  for (bool chained : {false, true}) {
    FlowSpec s;
    s.v6 = c.inner_v6;
    s.payload = 1000;
    Packet* p =
        make_filled(s, chained ? std::vector<uint32_t>{60, 333, 1} : std::vector<uint32_t>{});
    const Bytes orig = packet_to_bytes(*p);
    Tunnel tun(config(c.kind, c.outer_v6, c.csum));
    ASSERT_EQ(tun.encap(*p), TunnelError::kOk);
    // The offsets encap recorded are what the parser finds.
    const PacketType t = p->packet_type();
    const uint16_t offs[5] = {p->l3_offset(), p->l4_offset(), p->inner_l2_offset(),
                              p->inner_l3_offset(), p->inner_l4_offset()};
    ASSERT_EQ(proto::parse_packet(*p), proto::ParseError::kOk);
    EXPECT_EQ(p->packet_type(), t);
    const uint16_t reparsed[5] = {p->l3_offset(), p->l4_offset(), p->inner_l2_offset(),
                                  p->inner_l3_offset(), p->inner_l4_offset()};
    for (int i = 0; i < 5; i++)
      EXPECT_EQ(offs[i], reparsed[i]) << i;
    EXPECT_TRUE(aligned(*p, p->l3_offset()));
    if (c.csum || !c.outer_v6 || c.kind == TunnelKind::kGre) {
      EXPECT_EQ(csum::verify_all(*p), CsumError::kOk);
    } else {
      EXPECT_EQ(csum::verify_l4(*p, csum::Layer::kInner), CsumError::kOk);
    }
    const Bytes enc = packet_to_bytes(*p);
    ASSERT_EQ(enc.size(), orig.size() + p->inner_l2_offset());
    EXPECT_EQ(Bytes(enc.begin() + p->inner_l2_offset(), enc.end()), orig);
    if (c.kind == TunnelKind::kVxlan) {
      const auto* vx = reinterpret_cast<const proto::VxlanHeader*>(&enc[p->inner_l2_offset() - 8]);
      EXPECT_EQ(vx->vni(), 0x123456u);
    }

    ASSERT_EQ(tun.decap(*p), TunnelError::kOk);
    EXPECT_EQ(packet_to_bytes(*p), orig);
    EXPECT_TRUE(aligned(*p, p->l3_offset()));
    EXPECT_EQ(p->packet_type().tunnel(), TunnelType::kNone);
    EXPECT_EQ(csum::verify_all(*p), CsumError::kOk);
    EXPECT_EQ(tun.stats().encapsulated, 1u);
    EXPECT_EQ(tun.stats().decapsulated, 1u);
    free_packet(p);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, TunnelRoundTrip,
                         ::testing::Values(Case{TunnelKind::kVxlan, false, false, true},
                                           Case{TunnelKind::kVxlan, true, true, false},
                                           Case{TunnelKind::kVxlan, true, false, true},
                                           Case{TunnelKind::kGeneve, false, true, true},
                                           Case{TunnelKind::kGeneve, true, false, false},
                                           Case{TunnelKind::kGre, false, false, true},
                                           Case{TunnelKind::kGre, true, true, true},
                                           Case{TunnelKind::kGre, false, true, false}));

TEST_F(TunnelTest, LcoEqualsFullRecompute) {
  for (TunnelKind kind : {TunnelKind::kVxlan, TunnelKind::kGeneve, TunnelKind::kGre}) {
    for (bool udp : {false, true}) {
      for (bool v6 : {false, true}) {
        FlowSpec s;
        s.udp = udp;
        s.v6 = v6;
        s.payload = 1777;
        Packet* p = make(testing::flow_frame(s), {100, 501});
        ASSERT_EQ(csum::to_partial(*p), CsumError::kOk);
        Tunnel tun(config(kind, v6, true));
        ASSERT_EQ(tun.encap(*p), TunnelError::kOk);
        EXPECT_EQ(tun.stats().outer_csum_lco, 1u);
        EXPECT_EQ(p->csum_state(), CsumState::kPartial);  // inner still to be finished
        const uint32_t field = kind == TunnelKind::kGre ? p->l4_offset() + 4u : p->l4_offset() + 6u;
        uint16_t lco;
        ASSERT_TRUE(copy_out(*p, field, &lco, 2));
        // Finish the inner checksum, then compute the outer one the slow way.
        ASSERT_EQ(csum::finish_partial(*p), CsumError::kOk);
        EXPECT_EQ(csum::verify_all(*p), CsumError::kOk);
        if (kind != TunnelKind::kGre) {
          ASSERT_EQ(csum::fill_l4(*p, csum::Layer::kOuter), CsumError::kOk);
          uint16_t full;
          ASSERT_TRUE(copy_out(*p, field, &full, 2));
          EXPECT_EQ(lco, full);
        }
        free_packet(p);
      }
    }
  }
}

TEST_F(TunnelTest, LcoSumRejectsBadState) {
  FlowSpec s;
  Packet* p = make(testing::flow_frame(s));
  uint32_t sum;
  EXPECT_EQ(lco_sum(*p, 0, &sum), CsumError::kBadState);
  ASSERT_EQ(csum::to_partial(*p), CsumError::kOk);
  EXPECT_EQ(lco_sum(*p, p->csum_start() + 1u, &sum), CsumError::kBadState);
  EXPECT_EQ(lco_fill_outer_udp(*p), CsumError::kNoHeader);  // TCP outer: no UDP to fill
  free_packet(p);
}

TEST_F(TunnelTest, RemoteChecksumOffloadRoundTrip) {
  for (bool udp : {false, true}) {
    for (bool complete : {false, true}) {
      for (bool outer_csum : {false, true}) {
        SCOPED_TRACE(::testing::Message() << udp << complete << outer_csum);
        FlowSpec s;
        s.udp = udp;
        s.payload = 1300;
        Packet* p = make(testing::flow_frame(s));
        ASSERT_EQ(csum::to_partial(*p), CsumError::kOk);
        TunnelConfig cfg = config(TunnelKind::kVxlan, false, outer_csum);
        cfg.rco_tx = true;
        Tunnel tx(cfg);
        ASSERT_EQ(tx.encap(*p), TunnelError::kOk);
        EXPECT_EQ(tx.stats().rco_sent, 1u);
        EXPECT_EQ(p->csum_state(), CsumState::kNone);
        const Bytes wire = packet_to_bytes(*p);
        const uint32_t vx = p->inner_l2_offset() - 8;
        EXPECT_TRUE(load_be32(&wire[vx]) & kVxlanFlagRco);
        EXPECT_TRUE(load_be32(&wire[vx]) & proto::VxlanHeader::kFlagVni);
        const uint8_t start = static_cast<uint8_t>(14 + 20);  // inner L4 from inner Ethernet
        EXPECT_EQ(wire[vx + 7], (start >> 1) | (udp ? 0x80 : 0));
        EXPECT_EQ(load_be32(&wire[vx + 4]) >> 8, 0x123456u);
        if (outer_csum) {
          EXPECT_EQ(csum::verify_l4(*p, csum::Layer::kOuter), CsumError::kOk);
        }
        // The inner checksum is not final on the wire.
        EXPECT_EQ(csum::verify_l4(*p, csum::Layer::kInner), CsumError::kBadChecksum);

        // Receiver: a fresh packet from the wire bytes.
        Packet* r = make(wire);
        if (complete) {
          ASSERT_EQ(csum::make_complete(*r, r->l4_offset()), CsumError::kOk);
        }
        Tunnel rx(config(TunnelKind::kVxlan, false, outer_csum));
        ASSERT_EQ(rx.decap(*r), TunnelError::kOk);
        EXPECT_EQ(rx.stats().rco_received, 1u);
        EXPECT_EQ(rx.stats().rco_complete, complete ? 1u : 0u);
        EXPECT_EQ(csum::verify_l4(*r), CsumError::kOk);
        if (complete) {
          ASSERT_EQ(r->csum_state(), CsumState::kComplete);
          EXPECT_EQ(csum::verify_l4_complete(*r), CsumError::kOk);
        }
        free_packet(r);
        free_packet(p);
      }
    }
  }
}

TEST_F(TunnelTest, RcoRejectsWhatTheHeaderCannotEncode) {
  FlowSpec s;
  Packet* p = make(testing::flow_frame(s));
  EXPECT_EQ(rco_encode(*p), TunnelError::kRcoBadState);  // not a tunnel
  Tunnel gen(config(TunnelKind::kGeneve, false, true));
  ASSERT_EQ(csum::to_partial(*p), CsumError::kOk);
  ASSERT_EQ(gen.encap(*p), TunnelError::kOk);
  EXPECT_EQ(rco_encode(*p), TunnelError::kRcoBadState);  // Geneve has no RCO
  free_packet(p);

  // A VXLAN header whose RCO start points past the packet.
  p = make(testing::flow_frame(s));
  Tunnel vx(config(TunnelKind::kVxlan, false, false));
  ASSERT_EQ(vx.encap(*p), TunnelError::kOk);
  Bytes b = packet_to_bytes(*p);
  free_packet(p);
  const size_t h = 14 + 20 + 8;
  store_be32(&b[h], proto::VxlanHeader::kFlagVni | kVxlanFlagRco);
  b = Bytes(b.begin(), b.begin() + 14 + 20 + 8 + 8 + 14 + 20 + 32);  // no payload
  store_be16(&b[16], static_cast<uint16_t>(b.size() - 14));
  store_be16(&b[38], static_cast<uint16_t>(b.size() - 34));
  store_be16(&b[66], 52);
  b[h + 7] = 0x7f;  // start 254
  p = make(b);
  Tunnel rx(config(TunnelKind::kVxlan, false, false));
  EXPECT_EQ(rx.decap(*p), TunnelError::kRcoBadOffset);
  EXPECT_EQ(rx.stats().errors[static_cast<size_t>(TunnelError::kRcoBadOffset)], 1u);
  free_packet(p);
}

TEST_F(TunnelTest, DecapKeepsOffloadState) {
  FlowSpec s;
  s.payload = 700;
  Tunnel tun(config(TunnelKind::kVxlan, false, true));
  // kComplete from the outer L3 on: reduced by the stripped bytes, still verifies.
  Packet* p = make_filled(s);
  ASSERT_EQ(tun.encap(*p), TunnelError::kOk);
  ASSERT_EQ(csum::make_complete(*p, 15), CsumError::kOk);  // odd start on purpose
  ASSERT_EQ(tun.decap(*p), TunnelError::kOk);
  ASSERT_EQ(p->csum_state(), CsumState::kComplete);
  EXPECT_EQ(p->csum_start(), 0);
  EXPECT_EQ(csum::verify_l4_complete(*p), CsumError::kOk);
  free_packet(p);
  // kUnnecessary covering the inner level stays; the outer-only kind does not.
  for (bool inner : {false, true}) {
    p = make_filled(s);
    ASSERT_EQ(tun.encap(*p), TunnelError::kOk);
    p->set_csum_unnecessary(inner);
    ASSERT_EQ(tun.decap(*p), TunnelError::kOk);
    EXPECT_EQ(p->csum_state(), inner ? CsumState::kUnnecessary : CsumState::kNone);
    free_packet(p);
  }
  // kPartial survives both ways, with csum_start following the headers.
  p = make(testing::flow_frame(s));
  ASSERT_EQ(csum::to_partial(*p), CsumError::kOk);
  ASSERT_EQ(tun.encap(*p), TunnelError::kOk);
  EXPECT_EQ(p->csum_start(), p->inner_l4_offset());
  ASSERT_EQ(tun.decap(*p), TunnelError::kOk);
  EXPECT_EQ(p->csum_start(), p->l4_offset());
  ASSERT_EQ(csum::finish_partial(*p), CsumError::kOk);
  EXPECT_EQ(csum::verify_all(*p), CsumError::kOk);
  free_packet(p);
  // GSO bits of the tunnel go away on decap.
  p = make(testing::flow_frame(s));
  p->set_gso(kGsoTcpv4, 500);
  ASSERT_EQ(tun.encap(*p), TunnelError::kOk);
  EXPECT_EQ(p->gso_type(), kGsoTcpv4 | kGsoUdpTunnel | kGsoUdpTunnelCsum);
  ASSERT_EQ(tun.decap(*p), TunnelError::kOk);
  EXPECT_EQ(p->gso_type(), kGsoTcpv4);
  free_packet(p);
}

TEST_F(TunnelTest, GreCarryingIpGetsAnEthernetHeader) {
  FlowSpec s;
  s.payload = 300;
  Bytes inner_ip = testing::ip_packet(s);
  // Outer Ethernet + IPv4 (proto GRE) + GRE(0x0800) + inner IPv4.
  Bytes outer = testing::eth_frame(Bytes(20 + 4 + inner_ip.size()), false);
  uint8_t* ip = outer.data() + 14;
  ip[0] = 0x45;
  store_be16(ip + 2, static_cast<uint16_t>(outer.size() - 14));
  ip[8] = 64;
  ip[9] = IPPROTO_GRE;
  store_be16(ip + 20 + 2, ETH_P_IP);
  std::memcpy(ip + 24, inner_ip.data(), inner_ip.size());
  Packet* p = make(outer);
  ASSERT_EQ(p->packet_type().tunnel(), TunnelType::kGre);
  Tunnel tun(config(TunnelKind::kGre, false, false));
  ASSERT_EQ(tun.decap(*p), TunnelError::kOk);
  Bytes b = packet_to_bytes(*p);
  ASSERT_EQ(b.size(), 14 + inner_ip.size());
  EXPECT_EQ(Bytes(b.begin(), b.begin() + 12), Bytes(outer.begin(), outer.begin() + 12));
  EXPECT_EQ(load_be16(&b[12]), ETH_P_IP);
  EXPECT_EQ(Bytes(b.begin() + 14, b.end()), inner_ip);
  EXPECT_EQ(p->l3_offset(), 14);
  EXPECT_TRUE(aligned(*p, 14));
  free_packet(p);
}

TEST_F(TunnelTest, EncapErrorsAreCounted) {
  FlowSpec s;
  Tunnel tun(config(TunnelKind::kVxlan, true, true));
  Packet* p = make(testing::flow_frame(s));
  p->reset_metadata();
  EXPECT_EQ(tun.encap(*p), TunnelError::kNotParsed);
  free_packet(p);
  p = make(testing::flow_frame(s));
  ASSERT_EQ(tun.encap(*p), TunnelError::kOk);
  EXPECT_EQ(tun.encap(*p), TunnelError::kAlreadyTunnel);
  free_packet(p);
  // No headroom: a caller-owned buffer with none.
  Bytes frame = testing::flow_frame(s);
  std::vector<uint8_t> buf(frame.size());
  Packet q;
  q.init(buf.data(), static_cast<uint32_t>(buf.size()), 0, kNoPool);
  std::memcpy(q.append(static_cast<uint32_t>(frame.size())), frame.data(), frame.size());
  ASSERT_EQ(proto::parse_packet(q), proto::ParseError::kOk);
  EXPECT_EQ(tun.encap(q), TunnelError::kNoHeadroom);
  EXPECT_EQ(packet_to_bytes(q), frame);  // untouched
  EXPECT_EQ(tun.decap(q), TunnelError::kNotTunnel);
  EXPECT_EQ(tun.stats().errors[static_cast<size_t>(TunnelError::kNotParsed)], 1u);
  EXPECT_EQ(tun.stats().errors[static_cast<size_t>(TunnelError::kAlreadyTunnel)], 1u);
  EXPECT_EQ(tun.stats().errors[static_cast<size_t>(TunnelError::kNoHeadroom)], 1u);
  EXPECT_EQ(tun.stats().errors[static_cast<size_t>(TunnelError::kNotTunnel)], 1u);
}

TEST_F(TunnelTest, FlowSourcePortIsInRangeAndPerFlow) {
  for (uint32_t h : {0u, 1u, 0xffffffffu, 0x12345678u}) {
    const uint16_t port = udp_flow_src_port(h, 32768, 60999);
    EXPECT_GE(port, 32768);
    EXPECT_LT(port, 60999);
  }
  EXPECT_EQ(udp_flow_src_port(7, 100, 100), 100);
  FlowSpec a, b;
  b.sport = a.sport + 1;
  Packet* pa = make(testing::flow_frame(a));
  Packet* pb = make(testing::flow_frame(b));
  EXPECT_NE(inner_flow_hash(*pa), inner_flow_hash(*pb));
  pb->set_rss_hash(99);
  EXPECT_EQ(inner_flow_hash(*pb), 99u);
  free_packet(pa);
  free_packet(pb);
}

}  // namespace
}  // namespace ferry::offload
