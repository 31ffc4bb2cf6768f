#include "offload/gso.h"

#include <memory>
#include <ostream>
#include <vector>

#include <gtest/gtest.h>

#include "csum/offload_state.h"
#include "csum/packet_checksum.h"
#include "gso_frames.h"
#include "offload/tunnel.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "packet/segment_reader.h"
#include "proto/ipv4.h"
#include "proto/ipv6.h"
#include "proto/parser.h"
#include "proto/tcp.h"
#include "proto/udp.h"

namespace ferry::offload {
inline void PrintTo(GsoError e, std::ostream* os) {
  *os << to_string(e);
}
inline void PrintTo(TunnelError e, std::ostream* os) {
  *os << to_string(e);
}
}  // namespace ferry::offload
namespace ferry::csum {
inline void PrintTo(CsumError e, std::ostream* os) {
  *os << to_string(e);
}
}  // namespace ferry::csum

namespace ferry::offload {
namespace {

using csum::CsumError;
using testing::Bytes;
using testing::FlowSpec;

constexpr uint16_t kMss = 1448;

class GsoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BufferPool::Config c;
    c.name = "gso_test";
    c.buffer_count = 2048;
    pool_ = BufferPool::create(c);
    ASSERT_NE(pool_, nullptr);
  }
  void TearDown() override {
    // Every test frees what it made: nothing may stay allocated.
    EXPECT_EQ(pool_->stats().in_use, 0u);
    EXPECT_EQ(pool_->stats().bad_frees, 0u);
  }

  // A parsed packet from bytes, chained by lens, with the GSO metadata a virtio guest
  // would give it (NEEDS_CSUM at the L4 header of the segmented layer).
  Packet* make(const Bytes& frame, uint16_t gso_type, uint16_t gso_size,
               const std::vector<uint32_t>& lens = {}) {
    Packet* p = testing::chain_from(*pool_, frame, lens);
    EXPECT_NE(p, nullptr);
    EXPECT_EQ(proto::parse_packet(*p), proto::ParseError::kOk);
    p->set_gso(gso_type, gso_size);
    return p;
  }

  struct Result {
    GsoError error;
    std::vector<Packet*> segs;
  };
  Result run(GsoEngine& gso, const Packet& in, uint32_t cap = 512) {
    std::vector<Packet*> out(cap);
    uint32_t n = 0;
    GsoError e = gso.segment(in, out.data(), cap, &n);
    out.resize(n);
    return {e, out};
  }
  void free_all(std::vector<Packet*>& v) {
    free_packets(v.data(), static_cast<uint32_t>(v.size()));
    v.clear();
  }

  std::unique_ptr<BufferPool> pool_;
};

// Every segment re-parses to the offsets GSO gave it, its checksums verify (after
// finishing a kPartial one), and the payloads concatenate to the input's payload.
void check_segments(std::vector<Packet*>& segs, const Bytes& frame, uint32_t hdr_len,
                    uint32_t seg_hdr_len, uint32_t mss) {
  Bytes joined;
  for (size_t i = 0; i < segs.size(); i++) {
    Packet& s = *segs[i];
    SCOPED_TRACE(::testing::Message() << "segment " << i);
    const PacketType t = s.packet_type();
    const uint16_t l3 = s.l3_offset(), l4 = s.l4_offset(), il3 = s.inner_l3_offset(),
                   il4 = s.inner_l4_offset();
    ASSERT_EQ(proto::parse_packet(s), proto::ParseError::kOk);
    EXPECT_EQ(s.packet_type(), t);
    EXPECT_EQ(s.l3_offset(), l3);
    EXPECT_EQ(s.l4_offset(), l4);
    EXPECT_EQ(s.inner_l3_offset(), il3);
    EXPECT_EQ(s.inner_l4_offset(), il4);
    if (s.csum_state() == CsumState::kPartial) {
      ASSERT_EQ(csum::finish_partial(s), CsumError::kOk);
    }
    // RFC 6935: tunnels may send a zero UDP checksum over IPv6, which the strict
    // verify_all() refuses; check the inner layer alone then.
    const bool zero_v6_udp = t.tunnel() != TunnelType::kNone && t.is_ipv6() &&
                             t.l4() == L4Type::kUdp && load_be16(s.data() + l4 + 6) == 0;
    if (zero_v6_udp) {
      EXPECT_EQ(csum::verify_l4(s, csum::Layer::kInner), CsumError::kOk);
      if (t.is_inner_ipv4()) {
        EXPECT_EQ(csum::verify_ipv4_header(s, csum::Layer::kInner), CsumError::kOk);
      }
    } else {
      EXPECT_EQ(csum::verify_all(s), CsumError::kOk);
    }
    Bytes b = packet_to_bytes(s);
    ASSERT_GE(b.size(), seg_hdr_len);
    if (i + 1 < segs.size()) {
      EXPECT_EQ(b.size() - seg_hdr_len, mss);
    }
    EXPECT_LE(b.size() - seg_hdr_len, mss);
    joined.insert(joined.end(), b.begin() + seg_hdr_len, b.end());
  }
  EXPECT_EQ(joined, Bytes(frame.begin() + hdr_len, frame.end()));
}

const proto::TcpHeader* tcp_at(const Packet& p, uint16_t off) {
  return reinterpret_cast<const proto::TcpHeader*>(p.data() + off);
}

// --- TCP ---------------------------------------------------------------------------------

struct TcpCase {
  bool v6;
  uint32_t payload;
  uint32_t expect_segs;
};

class GsoTcpTest : public GsoTest, public ::testing::WithParamInterface<TcpCase> {};

TEST_P(GsoTcpTest, SegmentsFlagsSeqIdChecksums) {
  const TcpCase c = GetParam();
  FlowSpec s;
  s.v6 = c.v6;
  s.payload = c.payload;
  s.tcp_flags = 0x80 | 0x10 | 0x08 | 0x01;  // CWR ACK PSH FIN
  Bytes frame = testing::flow_frame(s);
  Packet* in = make(frame, c.v6 ? kGsoTcpv6 : kGsoTcpv4, kMss);
  GsoEngine gso(*pool_);
  Result r = run(gso, *in);
  ASSERT_EQ(r.error, GsoError::kOk);
  ASSERT_EQ(r.segs.size(), c.expect_segs);
  const uint32_t hdr = 14 + (c.v6 ? 40 : 20) + 32;
  for (size_t i = 0; i < r.segs.size(); i++) {
    const Packet& p = *r.segs[i];
    const auto* th = tcp_at(p, p.l4_offset());
    EXPECT_EQ(th->seq.value(), s.seq + static_cast<uint32_t>(i) * kMss);
    const bool last = i + 1 == r.segs.size();
    EXPECT_EQ(th->has(proto::kTcpFin), last);
    EXPECT_EQ(th->has(proto::kTcpPsh), last);
    EXPECT_EQ(th->has(proto::kTcpCwr), i == 0);
    EXPECT_TRUE(th->has(proto::kTcpAck));
    // The timestamp option is copied unchanged.
    EXPECT_EQ(load_be32(p.data() + p.l4_offset() + 24), 0x01020304u);
    if (!c.v6) {
      const auto* ip = reinterpret_cast<const proto::Ipv4Header*>(p.data() + 14);
      EXPECT_EQ(ip->id.value(), static_cast<uint16_t>(s.ip_id + i));
      EXPECT_EQ(ip->total_length.value(), p.pkt_len() - 14);
      EXPECT_TRUE(ip->dont_fragment());
    } else {
      const auto* ip = reinterpret_cast<const proto::Ipv6Header*>(p.data() + 14);
      EXPECT_EQ(ip->payload_length.value(), p.pkt_len() - 54);
    }
    EXPECT_EQ(p.csum_state(), CsumState::kUnnecessary);
    EXPECT_FALSE(p.is_gso());
  }
  check_segments(r.segs, frame, hdr, hdr, kMss);
  EXPECT_EQ(gso.stats().segments, c.expect_segs);
  EXPECT_EQ(gso.stats().single_segment, c.expect_segs == 1 ? 1u : 0u);
  free_all(r.segs);
  free_packet(in);
}

INSTANTIATE_TEST_SUITE_P(Mss, GsoTcpTest,
                         ::testing::Values(TcpCase{false, 44 * kMss, 44},
                                           TcpCase{false, 44 * kMss + 1, 45},
                                           TcpCase{false, kMss - 1, 1}, TcpCase{false, kMss, 1},
                                           TcpCase{false, 65535 - 20 - 32, 46},
                                           TcpCase{true, 10 * kMss, 10},
                                           TcpCase{true, 10 * kMss + 1, 11}, TcpCase{true, 100, 1},
                                           TcpCase{true, 65535 - 32, 46}));

TEST_F(GsoTest, FixedIpIdKeepsTheId) {
  FlowSpec s;
  s.payload = 5 * kMss;
  Bytes frame = testing::flow_frame(s);
  Packet* in = make(frame, kGsoTcpv4 | kGsoTcpFixedId, kMss);
  GsoEngine gso(*pool_);
  Result r = run(gso, *in);
  ASSERT_EQ(r.error, GsoError::kOk);
  ASSERT_EQ(r.segs.size(), 5u);
  for (Packet* p : r.segs) {
    EXPECT_EQ(reinterpret_cast<const proto::Ipv4Header*>(p->data() + 14)->id.value(), s.ip_id);
  }
  check_segments(r.segs, frame, 66, 66, kMss);
  free_all(r.segs);
  free_packet(in);
}

TEST_F(GsoTest, IpIdWrapsAndTcpWithoutOptions) {
  FlowSpec s;
  s.payload = 3 * 1000;
  s.ip_id = 0xffff;
  s.timestamps = false;
  Bytes frame = testing::flow_frame(s);
  Packet* in = make(frame, kGsoTcpv4, 1000);
  GsoEngine gso(*pool_);
  Result r = run(gso, *in);
  ASSERT_EQ(r.error, GsoError::kOk);
  ASSERT_EQ(r.segs.size(), 3u);
  EXPECT_EQ(reinterpret_cast<const proto::Ipv4Header*>(r.segs[1]->data() + 14)->id.value(), 0);
  check_segments(r.segs, frame, 54, 54, 1000);
  free_all(r.segs);
  free_packet(in);
}

TEST_F(GsoTest, PartialModeLeavesPseudoHeaderSums) {
  for (bool v6 : {false, true}) {
    FlowSpec s;
    s.v6 = v6;
    s.payload = 4 * kMss + 7;
    Bytes frame = testing::flow_frame(s);
    Packet* in = make(frame, v6 ? kGsoTcpv6 : kGsoTcpv4, kMss);
    GsoConfig cfg;
    cfg.csum_mode = GsoCsumMode::kPartial;
    GsoEngine gso(*pool_, cfg);
    Result r = run(gso, *in);
    ASSERT_EQ(r.error, GsoError::kOk);
    for (Packet* p : r.segs) {
      EXPECT_EQ(p->csum_state(), CsumState::kPartial);
      EXPECT_EQ(p->csum_start(), p->l4_offset());
      EXPECT_EQ(p->csum_offset(), 16);
      EXPECT_EQ(csum::check_partial(*p), CsumError::kOk);
    }
    const uint32_t hdr = 14 + (v6 ? 40 : 20) + 32;
    check_segments(r.segs, frame, hdr, hdr, kMss);  // finishes, then verifies
    free_all(r.segs);
    free_packet(in);
  }
}

TEST_F(GsoTest, ChainedInputsWithOddSegmentsAreNotLinearised) {
  for (uint32_t seed = 1; seed <= 12; seed++) {
    FlowSpec s;
    s.v6 = seed % 2 == 0;
    s.payload = 9000 + seed * 37;
    s.seed = static_cast<uint8_t>(seed);
    Bytes frame = testing::flow_frame(s);
    // Headers split across segments too (the first segments are a few bytes each).
    std::vector<uint32_t> lens = testing::odd_split(static_cast<uint32_t>(frame.size()), seed);
    if (seed % 3 == 0) lens.insert(lens.begin(), {7, 13, 1, 29});
    Packet* in = make(frame, s.v6 ? kGsoTcpv6 : kGsoTcpv4, kMss, lens);
    ASSERT_TRUE(in->is_chained());
    for (GsoCsumMode mode : {GsoCsumMode::kFill, GsoCsumMode::kPartial}) {
      GsoConfig cfg;
      cfg.csum_mode = mode;
      GsoEngine gso(*pool_, cfg);
      Result r = run(gso, *in);
      ASSERT_EQ(r.error, GsoError::kOk) << seed;
      const uint32_t hdr = 14 + (s.v6 ? 40 : 20) + 32;
      check_segments(r.segs, frame, hdr, hdr, kMss);
      EXPECT_EQ(gso.stats().chained_inputs, 1u);
      free_all(r.segs);
    }
    free_packet(in);
  }
}

TEST_F(GsoTest, JumboSegmentsContinueInFurtherBuffers) {
  FlowSpec s;
  s.payload = 3 * 8948 + 5;
  Bytes frame = testing::flow_frame(s);
  Packet* in = make(frame, kGsoTcpv4, 8948);
  GsoEngine gso(*pool_);
  Result r = run(gso, *in);
  ASSERT_EQ(r.error, GsoError::kOk);
  ASSERT_EQ(r.segs.size(), 4u);
  EXPECT_TRUE(r.segs[0]->is_chained());
  EXPECT_EQ(gso.stats().chained_outputs, 3u);
  check_segments(r.segs, frame, 66, 66, 8948);
  free_all(r.segs);
  free_packet(in);
}

TEST_F(GsoTest, VlanTagAndIpv4OptionsAreCopiedToEverySegment) {
  FlowSpec s;
  s.payload = 3 * kMss + 10;
  Bytes plain = testing::flow_frame(s);
  // 802.1Q tag after the MACs, and 8 bytes of IPv4 options (NOP padding + a timestamp).
  Bytes frame(plain.begin(), plain.begin() + 12);
  const uint8_t tag[4] = {0x81, 0x00, 0x00, 0x64};
  frame.insert(frame.end(), tag, tag + 4);
  frame.insert(frame.end(), plain.begin() + 12, plain.begin() + 14 + 20);
  const uint8_t opts[8] = {1, 1, 1, 1, 1, 1, 1, 0};
  frame.insert(frame.end(), opts, opts + 8);
  frame.insert(frame.end(), plain.begin() + 14 + 20, plain.end());
  frame[18] = 0x47;
  store_be16(&frame[20], static_cast<uint16_t>(frame.size() - 18));
  Packet* in = make(frame, kGsoTcpv4, kMss, {5, 17});
  ASSERT_EQ(in->l3_offset(), 18);
  ASSERT_EQ(in->l4_offset(), 18 + 28);
  GsoEngine gso(*pool_);
  Result r = run(gso, *in);
  ASSERT_EQ(r.error, GsoError::kOk);
  ASSERT_EQ(r.segs.size(), 4u);
  for (Packet* p : r.segs) {
    EXPECT_EQ(load_be16(p->data() + 12), 0x8100);
    EXPECT_EQ(p->data()[18], 0x47);
  }
  check_segments(r.segs, frame, 18 + 28 + 32, 18 + 28 + 32, kMss);
  free_all(r.segs);
  free_packet(in);
}

// IPv6 extension headers stay in every segment; with a Segment Routing header the
// pseudo header takes the final destination (RFC 8200 8.1), which verify_all() checks.
TEST_F(GsoTest, Ipv6ExtensionHeadersAndRoutingHeaderPseudoHeader) {
  for (bool srh : {false, true}) {
    FlowSpec s;
    s.v6 = true;
    s.payload = 3 * kMss + 1;
    Bytes plain = testing::flow_frame(s);
    Bytes ext(srh ? 24 : 8, 0);
    ext[0] = IPPROTO_TCP;
    if (srh) {
      ext[1] = 2;  // 24 bytes
      ext[2] = 4;  // Segment Routing
      ext[3] = 1;  // segments left
      for (int i = 0; i < 16; i++)
        ext[8 + i] = static_cast<uint8_t>(0xa0 + i);
    }
    Bytes frame(plain.begin(), plain.begin() + 54);
    frame[20] = srh ? IPPROTO_ROUTING : IPPROTO_HOPOPTS;
    frame.insert(frame.end(), ext.begin(), ext.end());
    frame.insert(frame.end(), plain.begin() + 54, plain.end());
    store_be16(&frame[18], static_cast<uint16_t>(frame.size() - 54));
    Packet* in = make(frame, kGsoTcpv6, kMss);
    ASSERT_EQ(in->l4_offset(), 54 + ext.size());
    GsoEngine gso(*pool_);
    Result r = run(gso, *in);
    ASSERT_EQ(r.error, GsoError::kOk);
    ASSERT_EQ(r.segs.size(), 4u);
    const uint32_t hdr = 54 + static_cast<uint32_t>(ext.size()) + 32;
    check_segments(r.segs, frame, hdr, hdr, kMss);
    free_all(r.segs);
    free_packet(in);
  }
}

TEST_F(GsoTest, UnsupportedCombinationsAreCounted) {
  GsoEngine gso(*pool_);
  FlowSpec u;
  u.udp = true;
  u.payload = 3000;
  // UFO inside a tunnel.
  Packet* p = make(testing::flow_frame(u), kGsoUdp, 1480);
  Tunnel tun(TunnelConfig{});
  ASSERT_EQ(tun.encap(*p), TunnelError::kOk);
  Result r = run(gso, *p);
  EXPECT_EQ(r.error, GsoError::kUnsupported);
  free_packet(p);
  // GRE with sequence numbers.
  FlowSpec s;
  s.payload = 3000;
  p = make(testing::flow_frame(s), kGsoTcpv4, kMss);
  TunnelConfig gc;
  gc.kind = TunnelKind::kGre;
  Tunnel gre(gc);
  ASSERT_EQ(gre.encap(*p), TunnelError::kOk);
  uint8_t* g = p->data() + p->l4_offset();
  store_be16(g, 0x1000);  // S bit; the header now claims 8 bytes, so re-parse
  r = run(gso, *p);
  EXPECT_EQ(r.error, GsoError::kUnsupported);
  free_packet(p);
  // UFO with IPv4 options.
  Bytes f = testing::flow_frame(u);
  const uint8_t opts[4] = {1, 1, 1, 0};
  f.insert(f.begin() + 34, opts, opts + 4);
  f[14] = 0x46;
  store_be16(&f[16], static_cast<uint16_t>(f.size() - 14));
  p = make(f, kGsoUdp, 1480);
  r = run(gso, *p);
  EXPECT_EQ(r.error, GsoError::kUnsupported);
  free_packet(p);
  EXPECT_EQ(gso.stats().rejected[static_cast<size_t>(GsoError::kUnsupported)], 3u);
}

// --- UDP -------------------------------------------------------------------------------

TEST_F(GsoTest, UdpL4SegmentationMakesDatagrams) {
  for (bool v6 : {false, true}) {
    for (GsoCsumMode mode : {GsoCsumMode::kFill, GsoCsumMode::kPartial}) {
      FlowSpec s;
      s.v6 = v6;
      s.udp = true;
      s.payload = 7 * 1200 + 99;
      Bytes frame = testing::flow_frame(s);
      Packet* in = make(frame, kGsoUdpL4, 1200);
      GsoConfig cfg;
      cfg.csum_mode = mode;
      GsoEngine gso(*pool_, cfg);
      Result r = run(gso, *in);
      ASSERT_EQ(r.error, GsoError::kOk);
      ASSERT_EQ(r.segs.size(), 8u);
      for (Packet* p : r.segs) {
        const auto* uh = reinterpret_cast<const proto::UdpHeader*>(p->data() + p->l4_offset());
        EXPECT_EQ(uh->length.value(), p->pkt_len() - p->l4_offset());
        if (mode == GsoCsumMode::kPartial) {
          EXPECT_EQ(p->csum_offset(), 6);
        }
      }
      const uint32_t hdr = 14 + (v6 ? 40 : 20) + 8;
      check_segments(r.segs, frame, hdr, hdr, 1200);
      free_all(r.segs);
      free_packet(in);
    }
  }
}

// Reassembles UFO fragments: checks offsets/MF/ID and that the datagram's checksum holds.
TEST_F(GsoTest, UdpFragmentationV4AndV6) {
  for (bool v6 : {false, true}) {
    for (bool chained : {false, true}) {
      FlowSpec s;
      s.v6 = v6;
      s.udp = true;
      s.payload = 20000 + 3;
      Bytes frame = testing::flow_frame(s);
      const uint32_t l4 = 14 + (v6 ? 40 : 20);
      Packet* in = make(frame, kGsoUdp, 1480 + 3,  // rounded down to 1480
                        chained ? testing::odd_split(static_cast<uint32_t>(frame.size()), 5)
                                : std::vector<uint32_t>{});
      GsoEngine gso(*pool_);
      Result r = run(gso, *in);
      ASSERT_EQ(r.error, GsoError::kOk);
      const uint32_t udp_len = static_cast<uint32_t>(frame.size()) - l4;
      ASSERT_EQ(r.segs.size(), (udp_len + 1479) / 1480);
      Bytes datagram;
      const uint32_t fh = v6 ? 8 : 0;
      for (size_t i = 0; i < r.segs.size(); i++) {
        Packet& p = *r.segs[i];
        Bytes b = packet_to_bytes(p);
        const bool last = i + 1 == r.segs.size();
        uint32_t off;
        bool more;
        if (v6) {
          EXPECT_EQ(b[14 + 6], IPPROTO_FRAGMENT);
          EXPECT_EQ(load_be16(&b[18]), b.size() - 54);
          const auto* f = reinterpret_cast<const proto::Ipv6FragmentHeader*>(&b[54]);
          EXPECT_EQ(f->next_header, IPPROTO_UDP);
          EXPECT_EQ(f->identification.value(), 1u);
          off = f->fragment_offset();
          more = f->more_fragments();
        } else {
          const auto* ip = reinterpret_cast<const proto::Ipv4Header*>(&b[14]);
          EXPECT_EQ(ip->id.value(), s.ip_id);
          EXPECT_TRUE(ip->dont_fragment());
          EXPECT_EQ(csum::verify_ipv4_header(p), CsumError::kOk);
          off = ip->fragment_offset();
          more = ip->more_fragments();
        }
        EXPECT_EQ(off, i * 1480);
        EXPECT_EQ(more, !last);
        if (!last) {
          EXPECT_EQ(b.size() - l4 - fh, 1480u);
        }
        EXPECT_EQ(p.packet_type().l4(), i == 0 ? L4Type::kUdp : L4Type::kFragment);
        datagram.insert(datagram.end(), b.begin() + l4 + fh, b.end());
      }
      ASSERT_EQ(datagram.size(), udp_len);
      // Rebuild the unfragmented frame from the fragments and verify its UDP checksum.
      Bytes whole(frame.begin(), frame.begin() + l4);
      whole.insert(whole.end(), datagram.begin(), datagram.end());
      EXPECT_EQ(Bytes(whole.begin() + l4 + 8, whole.end()),
                Bytes(frame.begin() + l4 + 8, frame.end()));
      Packet* w = packet_from_bytes(*pool_, whole);
      ASSERT_NE(w, nullptr);
      ASSERT_EQ(proto::parse_packet(*w), proto::ParseError::kOk);
      EXPECT_EQ(csum::verify_l4(*w), CsumError::kOk);
      free_packet(w);
      free_all(r.segs);
      free_packet(in);
    }
  }
}

// --- Tunnels ----------------------------------------------------------------------------

struct TunnelCase {
  TunnelKind kind;
  bool outer_v6;
  bool inner_v6;
  bool csum;  // outer UDP checksum / GRE checksum
  bool udp;   // inner USO instead of TSO
};

class GsoTunnelTest : public GsoTest, public ::testing::WithParamInterface<TunnelCase> {
 protected:
  static TunnelConfig tunnel_config(const TunnelCase& c) {
    TunnelConfig t;
    t.kind = c.kind;
    t.ipv6 = c.outer_v6;
    t.src_mac = proto::MacAddress::from_u64(0x020000000001);
    t.dst_mac = proto::MacAddress::from_u64(0x020000000002);
    t.src_ip4 = {192, 168, 1, 1};
    t.dst_ip4 = {192, 168, 1, 2};
    t.src_ip6.bytes[0] = 0xfd;
    t.src_ip6.bytes[15] = 1;
    t.dst_ip6.bytes[0] = 0xfd;
    t.dst_ip6.bytes[15] = 2;
    t.vni = 42;
    t.udp_csum = c.csum;
    t.gre_csum = c.csum;
    t.gre_key = true;
    return t;
  }
};

TEST_P(GsoTunnelTest, InnerAndOuterHeadersPerSegment) {
  const TunnelCase c = GetParam();
  for (GsoCsumMode mode : {GsoCsumMode::kFill, GsoCsumMode::kPartial}) {
    SCOPED_TRACE(mode == GsoCsumMode::kFill ? "fill" : "partial");
    FlowSpec s;
    s.v6 = c.inner_v6;
    s.udp = c.udp;
    s.payload = 6 * kMss + 100;
    Bytes inner = testing::flow_frame(s);
    Packet* in = make(inner, c.udp ? kGsoUdpL4 : (c.inner_v6 ? kGsoTcpv6 : kGsoTcpv4), kMss,
                      testing::odd_split(static_cast<uint32_t>(inner.size()), 77));
    Tunnel tun(tunnel_config(c));
    ASSERT_EQ(tun.encap(*in), TunnelError::kOk);
    EXPECT_TRUE(in->gso_type() & (c.kind == TunnelKind::kGre ? kGsoGre : kGsoUdpTunnel));
    Bytes frame = packet_to_bytes(*in);
    const uint32_t outer_len = in->inner_l2_offset();
    const uint32_t hdr = outer_len + 14 + (c.inner_v6 ? 40 : 20) + (c.udp ? 8 : 32);

    GsoConfig cfg;
    cfg.csum_mode = mode;
    GsoEngine gso(*pool_, cfg);
    Result r = run(gso, *in);
    ASSERT_EQ(r.error, GsoError::kOk);
    ASSERT_EQ(r.segs.size(), 7u);
    for (size_t i = 0; i < r.segs.size(); i++) {
      Packet& p = *r.segs[i];
      const uint8_t* f = p.data();
      if (c.outer_v6) {
        EXPECT_EQ(load_be16(f + 18), p.pkt_len() - 54);
      } else {
        EXPECT_EQ(load_be16(f + 16), p.pkt_len() - 14);
        EXPECT_EQ(load_be16(f + 18), static_cast<uint16_t>(load_be16(&frame[18]) + i));
      }
      if (c.kind != TunnelKind::kGre) {
        const auto* uh = reinterpret_cast<const proto::UdpHeader*>(f + p.l4_offset());
        EXPECT_EQ(uh->length.value(), p.pkt_len() - p.l4_offset());
        EXPECT_EQ(uh->checksum.value() != 0, c.csum);
        EXPECT_EQ(uh->src_port.value(), load_be16(&frame[p.l4_offset()]));
      } else {
        EXPECT_EQ((load_be16(f + p.l4_offset()) & 0x8000) != 0, c.csum);
      }
      if (mode == GsoCsumMode::kPartial) {
        EXPECT_EQ(p.csum_state(), CsumState::kPartial);
        EXPECT_EQ(p.csum_start(), p.inner_l4_offset());
      } else {
        EXPECT_EQ(p.csum_state(), CsumState::kUnnecessary);
        EXPECT_TRUE(p.flags() & kFlagCsumLevelInner);
      }
    }
    // In partial mode the outer checksum was computed by LCO before the inner one was
    // finished; check_segments finishes the inner one and verifies both.
    check_segments(r.segs, frame, hdr, hdr, kMss);
    free_all(r.segs);
    free_packet(in);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, GsoTunnelTest,
    ::testing::Values(TunnelCase{TunnelKind::kVxlan, false, false, true, false},
                      TunnelCase{TunnelKind::kVxlan, false, false, false, false},
                      TunnelCase{TunnelKind::kVxlan, true, true, true, false},
                      TunnelCase{TunnelKind::kVxlan, true, false, false, false},
                      TunnelCase{TunnelKind::kVxlan, false, true, true, true},
                      TunnelCase{TunnelKind::kGeneve, false, false, true, false},
                      TunnelCase{TunnelKind::kGeneve, false, false, false, false},
                      TunnelCase{TunnelKind::kGeneve, true, true, true, true},
                      TunnelCase{TunnelKind::kGre, false, false, true, false},
                      TunnelCase{TunnelKind::kGre, false, false, false, false},
                      TunnelCase{TunnelKind::kGre, true, true, true, false},
                      TunnelCase{TunnelKind::kGre, false, true, false, true}));

TEST_F(GsoTest, PartialGsoCopiesOuterHeadersWithLengthsOnly) {
  FlowSpec s;
  s.payload = 5 * kMss;
  Bytes inner = testing::flow_frame(s);
  Packet* in = make(inner, kGsoTcpv4, kMss);
  TunnelConfig tc;
  tc.src_ip4 = {1, 1, 1, 1};
  tc.dst_ip4 = {2, 2, 2, 2};
  Tunnel tun(tc);
  ASSERT_EQ(tun.encap(*in), TunnelError::kOk);
  in->set_gso(in->gso_type() | kGsoPartial, kMss);
  Bytes frame = packet_to_bytes(*in);
  GsoEngine gso(*pool_, GsoConfig{.csum_mode = GsoCsumMode::kPartial});
  Result r = run(gso, *in);
  ASSERT_EQ(r.error, GsoError::kOk);
  ASSERT_EQ(r.segs.size(), 5u);
  for (size_t i = 0; i < r.segs.size(); i++) {
    Packet& p = *r.segs[i];
    EXPECT_EQ(load_be16(p.data() + 18), load_be16(&frame[18]));  // outer ID unchanged
    EXPECT_EQ(csum::verify_ipv4_header(p), CsumError::kOk);
    // The outer UDP checksum is left for the peer; the inner one is final.
    EXPECT_EQ(p.csum_state(), CsumState::kPartial);
    EXPECT_EQ(p.csum_start(), p.l4_offset());
    EXPECT_EQ(p.csum_offset(), 6);
    EXPECT_EQ(csum::verify_l4(p, csum::Layer::kInner), CsumError::kOk);
    const auto* ip = reinterpret_cast<const proto::Ipv4Header*>(p.data() + p.inner_l3_offset());
    EXPECT_EQ(ip->id.value(), static_cast<uint16_t>(s.ip_id + i));  // inner ID increments
  }
  check_segments(r.segs, frame, 50 + 66, 50 + 66, kMss);
  free_all(r.segs);
  free_packet(in);
}

TEST_F(GsoTest, OuterSourcePortFromInnerFlowHash) {
  FlowSpec s;
  s.payload = 3 * kMss;
  Bytes inner = testing::flow_frame(s);
  Packet* in = make(inner, kGsoTcpv4, kMss);
  Tunnel tun(TunnelConfig{});
  ASSERT_EQ(tun.encap(*in), TunnelError::kOk);
  const uint16_t port = udp_flow_src_port(inner_flow_hash(*in), 32768, 60999);
  EXPECT_EQ(load_be16(in->data() + in->l4_offset()), port);  // encap used the same hash
  store_be16(in->data() + in->l4_offset(), 1);               // scribble it
  GsoConfig cfg;
  cfg.outer_src_port_from_hash = true;
  GsoEngine gso(*pool_, cfg);
  Result r = run(gso, *in);
  ASSERT_EQ(r.error, GsoError::kOk);
  for (Packet* p : r.segs)
    EXPECT_EQ(load_be16(p->data() + p->l4_offset()), port);
  free_all(r.segs);
  free_packet(in);
}

// --- Hostile inputs ----------------------------------------------------------------------

TEST_F(GsoTest, HostileInputsAreRejectedWithAReason) {
  GsoEngine gso(*pool_);
  FlowSpec s;
  s.payload = 3000;
  Bytes frame = testing::flow_frame(s);
  FlowSpec s6 = s;
  s6.v6 = true;
  Bytes frame6 = testing::flow_frame(s6);
  auto expect = [&](Packet* p, GsoError want, uint32_t cap = 512) {
    Result r = run(gso, *p, cap);
    EXPECT_EQ(r.error, want);
    EXPECT_TRUE(r.segs.empty());
    free_all(r.segs);
    free_packet(p);
  };
  expect(make(frame, kGsoNone, kMss), GsoError::kNotGso);
  expect(make(frame, kGsoTcpv4, 0), GsoError::kZeroGsoSize);
  expect(make(frame, kGsoTcpv4 | kGsoTcpv6, kMss), GsoError::kBadGsoType);
  expect(make(frame, kGsoTcpEcn, kMss), GsoError::kBadGsoType);
  expect(make(frame, kGsoTcpv4 | 0x8000, kMss), GsoError::kBadGsoType);
  expect(make(frame6, kGsoTcpv4, kMss), GsoError::kTypeMismatch);
  expect(make(frame, kGsoTcpv6, kMss), GsoError::kTypeMismatch);
  expect(make(frame, kGsoUdpL4, kMss), GsoError::kTypeMismatch);
  expect(make(frame, kGsoTcpv4 | kGsoUdpTunnel, kMss), GsoError::kTypeMismatch);
  expect(make(frame, kGsoTcpv4 | kGsoPartial, kMss), GsoError::kTypeMismatch);
  expect(make(frame, kGsoTcpv4 | kGsoUdpTunnel | kGsoGre, kMss), GsoError::kBadGsoType);
  expect(make(frame, kGsoTcpv4 | kGsoTunnelRemcsum, kMss), GsoError::kUnsupported);
  expect(make(frame, kGsoTcpv4, 1), GsoError::kTooManySegments);
  expect(make(frame, kGsoTcpv4, 100), GsoError::kOutputFull, 4);
  {
    Packet* p = make(frame, kGsoTcpv4, kMss);
    p->reset_metadata();
    p->set_gso(kGsoTcpv4, kMss);
    expect(p, GsoError::kNotParsed);
  }
  {
    // Headers only: nothing to segment.
    Bytes hdrs(frame.begin(), frame.begin() + 66);
    store_be16(&hdrs[16], 52);
    expect(make(hdrs, kGsoTcpv4, kMss), GsoError::kNoPayload);
  }
  {
    // Offsets that point past the data (a corrupted descriptor).
    Packet* p = make(frame, kGsoTcpv4, kMss);
    p->set_l4_offset(static_cast<uint16_t>(p->pkt_len() - 4));
    expect(p, GsoError::kHeadersBeyondData);
  }
  {
    // TCP data offset beyond the data.
    Bytes b(frame.begin(), frame.begin() + 14 + 20 + 20);
    b[14 + 20 + 12] = 0xf0;
    Packet* p = testing::chain_from(*pool_, b, {});
    p->set_packet_type(PacketType());
    PacketType t;
    t.set_l2(L2Type::kEther);
    t.set_l3(L3Type::kIpv4);
    t.set_l4(L4Type::kTcp);
    p->set_packet_type(t);
    p->set_l3_offset(14);
    p->set_l4_offset(34);
    p->set_gso(kGsoTcpv4, kMss);
    expect(p, GsoError::kHeadersBeyondData);
  }
  {
    FlowSpec u = s;
    u.udp = true;
    expect(make(testing::flow_frame(u), kGsoUdp, 7), GsoError::kGsoSizeTooSmall);
  }
  {
    // A segment of 65535 payload bytes plus headers is no IPv4 datagram.
    FlowSpec big = s;
    big.payload = 65000;
    expect(make(testing::flow_frame(big), kGsoTcpv4, 65500), GsoError::kSegmentTooLarge);
  }
  const GsoStats& st = gso.stats();
  EXPECT_EQ(st.segments, 0u);
  EXPECT_EQ(st.rejected[static_cast<size_t>(GsoError::kTypeMismatch)], 5u);
  EXPECT_EQ(st.rejected[static_cast<size_t>(GsoError::kBadGsoType)], 4u);
  uint64_t total = 0;
  st.for_each_counter([&](const char* name, uint64_t v) {
    if (std::string(name).rfind("rejected_", 0) == 0) total += v;
  });
  EXPECT_EQ(total, st.packets);
}

TEST_F(GsoTest, PoolExhaustionFreesPartialOutput) {
  BufferPool::Config c;
  c.name = "tiny";
  c.buffer_count = 4;
  auto tiny = BufferPool::create(c);
  FlowSpec s;
  s.payload = 10 * kMss;
  Bytes frame = testing::flow_frame(s);
  Packet* in = make(frame, kGsoTcpv4, kMss);
  GsoEngine gso(*tiny);
  Result r = run(gso, *in);
  EXPECT_EQ(r.error, GsoError::kNoBuffers);
  EXPECT_EQ(tiny->stats().in_use, 0u);
  free_packet(in);
}

TEST_F(GsoTest, BurstPassesNonGsoAndConsumesTheRest) {
  FlowSpec s;
  s.payload = 3 * kMss;
  Bytes frame = testing::flow_frame(s);
  Packet* pkts[4] = {make(frame, kGsoTcpv4, kMss), make(frame, kGsoNone, 0),
                     make(frame, kGsoTcpv4, 0), make(frame, kGsoTcpv4, kMss)};
  Packet* plain = pkts[1];
  Packet* out[16];
  GsoEngine gso(*pool_);
  uint32_t n = gso.segment_burst(pkts, 4, out, 16);
  ASSERT_EQ(n, 7u);
  EXPECT_EQ(out[3], plain);
  EXPECT_EQ(gso.stats().passed, 1u);
  EXPECT_EQ(gso.stats().segmented, 2u);
  EXPECT_EQ(gso.stats().rejected[static_cast<size_t>(GsoError::kZeroGsoSize)], 1u);
  free_packets(out, n);
}

}  // namespace
}  // namespace ferry::offload
