// Crafted frames: every ParseError, every truncation point of valid frames, chained packets,
// limits and corner cases of options, fragments and tunnels.

#include "proto/parser.h"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "frames.h"
#include "packet/packet.h"
#include "proto/gre.h"
#include "proto/parse_stats.h"

namespace ferry::proto {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace)

ParseError err(const Bytes& f, const ParseOptions& o = {}) {
  return parse_frame(f, o).error;
}

// The frame as a chain of segments of the given lengths (the last takes the rest).
class Chain {
 public:
  Chain(const Bytes& frame, std::vector<size_t> lens) {
    size_t pos = 0;
    lens.push_back(frame.size());
    bufs_.resize(lens.size());
    segs_.resize(lens.size());
    for (size_t i = 0; i < lens.size(); i++) {
      const size_t len = std::min(lens[i], frame.size() - pos);
      bufs_[i].assign(len + 8, 0);
      segs_[i].init(bufs_[i].data(), static_cast<uint32_t>(bufs_[i].size()), 4, kNoPool);
      segs_[i].append(static_cast<uint32_t>(len));
      if (len > 0) std::memcpy(segs_[i].data(), frame.data() + pos, len);
      pos += len;
      if (i > 0) segs_[0].append_segment(&segs_[i]);
    }
  }
  Packet& head() { return segs_[0]; }

 private:
  std::vector<Bytes> bufs_;
  std::vector<Packet> segs_;
};

void expect_same(const ParseResult& r, const Packet& p) {
  EXPECT_EQ(p.packet_type(), r.type);
  EXPECT_EQ(p.l3_offset(), r.l3_offset);
  EXPECT_EQ(p.l4_offset(), r.l4_offset);
  EXPECT_EQ(p.inner_l2_offset(), r.inner_l2_offset);
  EXPECT_EQ(p.inner_l3_offset(), r.inner_l3_offset);
  EXPECT_EQ(p.inner_l4_offset(), r.inner_l4_offset);
}

Bytes vxlan_frame() {
  const Bytes inner = eth(ETH_P_IP, ipv4(IPPROTO_TCP, tcp()));
  return eth(ETH_P_IP, ipv4(IPPROTO_UDP, udp(999, 4789, vxlan(42, inner))));
}
Bytes geneve_frame(const Bytes& options = {8, 0, 1, 1, 0xaa, 0xbb, 0xcc, 0xdd}) {
  return eth(
      ETH_P_IPV6,
      ipv6(IPPROTO_UDP, udp(999, 6081,
                            geneve(ETH_P_TEB, options,
                                   eth(ETH_P_IPV6, ipv6(IPPROTO_UDP, udp(1, 2, payload(4))))))));
}

// --- Valid frames ----------------------------------------------------------------------------

TEST(Parser, TcpOverIpv4) {
  const Bytes f = tcp_v4_frame();
  const ParseResult r = parse_frame(f);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(r.type.l2(), L2Type::kEther);
  EXPECT_EQ(r.type.l3(), L3Type::kIpv4);
  EXPECT_EQ(r.type.l4(), L4Type::kTcp);
  EXPECT_EQ(r.l3_offset, 14);
  EXPECT_EQ(r.l4_offset, 34);
  EXPECT_EQ(r.headers_len, 34 + 40);
  EXPECT_EQ(r.type.tunnel(), TunnelType::kNone);
}

TEST(Parser, Ipv4OptionsAndPadding) {
  // NOP NOP RR(len 7) EOL padding
  const Bytes opts = cat({Bytes{1, 1, 7, 7, 4, 0, 0, 0, 0, 0}, payload(2, 0)});
  // Ethernet padding after the datagram.
  const Bytes f =
      cat({eth(ETH_P_IP, ipv4(IPPROTO_UDP, udp(1, 2, payload(3)), opts)), payload(20, 0)});
  const ParseResult r = parse_frame(f);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(r.type.l3(), L3Type::kIpv4Ext);
  EXPECT_EQ(r.l4_offset, 14 + 32);
}

TEST(Parser, SctpIcmpAndUnknownL4) {
  Bytes sctp = payload(16, 0);
  EXPECT_EQ(parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_SCTP, sctp))).type.l4(), L4Type::kSctp);
  EXPECT_EQ(parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_ICMP, icmp_echo()))).type.l4(), L4Type::kIcmp);
  const ParseResult r = parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_ESP, payload(30))));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.l4(), L4Type::kOther);
  EXPECT_EQ(r.l4_offset, 34);
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(IPPROTO_SCTP, payload(11)))), ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(IPPROTO_ICMP, payload(7)))), ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_IPV6, ipv6(IPPROTO_ICMPV6, payload(3)))), ParseError::kTruncated);
}

TEST(Parser, UnknownEtherTypeAndLlc) {
  ParseResult r = parse_frame(eth(0x88cc, payload(30)));  // LLDP
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.l3(), L3Type::kOther);
  EXPECT_EQ(r.l3_offset, 14);
  r = parse_frame(eth(46, payload(46)));  // 802.3 length
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.l3(), L3Type::kNone);
  EXPECT_EQ(r.l3_offset, kNoOffset);
}

TEST(Parser, Arp) {
  Bytes arp = cat({Bytes{0, 1, 8, 0, 6, 4, 0, 1}, payload(20, 0x11)});
  const ParseResult r = parse_frame(eth(ETH_P_ARP, arp));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.l2(), L2Type::kEtherArp);
  EXPECT_EQ(r.headers_len, 42);
  arp.resize(27);
  EXPECT_EQ(err(eth(ETH_P_ARP, arp)), ParseError::kTruncated);
}

TEST(Parser, VxlanAndTunnelInTunnel) {
  const ParseResult r = parse_frame(vxlan_frame());
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(r.type.tunnel(), TunnelType::kVxlan);
  EXPECT_EQ(r.inner_l2_offset, 50);
  EXPECT_EQ(r.inner_l3_offset, 64);
  EXPECT_EQ(r.type.inner_l4(), L4Type::kTcp);
  EXPECT_EQ(r.inner_l4_offset, 84);
  EXPECT_EQ(r.headers_len, 104);

  // VXLAN inside VXLAN: the inner UDP is the deepest layer parsed.
  const Bytes inner =
      eth(ETH_P_IP, ipv4(IPPROTO_UDP, udp(5, 4789, vxlan(1, eth(ETH_P_IP, ipv4(6, tcp()))))));
  const ParseResult rr =
      parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_UDP, udp(999, 4789, vxlan(42, inner)))));
  ASSERT_TRUE(rr.ok());
  EXPECT_EQ(rr.type.inner_l4(), L4Type::kUdp);
  EXPECT_EQ(rr.headers_len, rr.inner_l4_offset + 8);

  // Without the I flag the UDP payload is not VXLAN.
  Bytes no_i = vxlan_frame();
  no_i[42] = 0;
  const ParseResult rn = parse_frame(no_i);
  ASSERT_TRUE(rn.ok());
  EXPECT_EQ(rn.type.tunnel(), TunnelType::kNone);

  // Another port.
  ParseOptions o;
  o.vxlan_port = 8472;
  EXPECT_EQ(parse_frame(vxlan_frame(), o).type.tunnel(), TunnelType::kNone);
}

TEST(Parser, Geneve) {
  const ParseResult r = parse_frame(geneve_frame());
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(r.type.tunnel(), TunnelType::kGeneve);
  // eth 14 + IPv6 40 + UDP 8 + Geneve 8 + options 8.
  EXPECT_EQ(r.inner_l2_offset, 78);
  EXPECT_EQ(r.inner_l3_offset, 92);
  EXPECT_EQ(r.type.inner_l4(), L4Type::kUdp);
  EXPECT_EQ(r.inner_l4_offset, 132);

  // Geneve carrying IPv4 directly.
  const Bytes g4 =
      eth(ETH_P_IP,
          ipv4(IPPROTO_UDP, udp(9, 6081, geneve(ETH_P_IP, {}, ipv4(IPPROTO_ICMP, icmp_echo())))));
  const ParseResult r4 = parse_frame(g4);
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(r4.inner_l2_offset, kNoOffset);
  EXPECT_EQ(r4.inner_l3_offset, 50);
  EXPECT_EQ(r4.type.inner_l4(), L4Type::kIcmp);
}

TEST(Parser, GreVariants) {
  const Bytes inner = ipv4(IPPROTO_UDP, udp(1, 2, payload(2)));
  for (uint16_t flags : {0x0000, 0x8000, 0x2000, 0x1000, 0xb000}) {
    SCOPED_TRACE(flags);
    const ParseResult r =
        parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_GRE, gre(flags, ETH_P_IP, inner))));
    ASSERT_TRUE(r.ok()) << to_string(r.error);
    GreHeader h;
    h.flags_version.set(flags);
    EXPECT_EQ(r.type.tunnel(), TunnelType::kGre);
    EXPECT_EQ(r.inner_l3_offset, 34 + h.header_len());
    EXPECT_EQ(r.type.inner_l4(), L4Type::kUdp);
  }
  // IPv6 over GRE over IPv6.
  const ParseResult r6 =
      parse_frame(eth(ETH_P_IPV6, ipv6(IPPROTO_GRE, gre(0, ETH_P_IPV6, ipv6(IPPROTO_TCP, tcp())))));
  ASSERT_TRUE(r6.ok());
  EXPECT_EQ(r6.inner_l3_offset, 58);
  EXPECT_EQ(r6.inner_l4_offset, 98);
  // Unknown payload (keepalive): tunnel recorded, no inner layers.
  const ParseResult rk = parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_GRE, gre(0, 0, {}))));
  ASSERT_TRUE(rk.ok());
  EXPECT_EQ(rk.type.tunnel(), TunnelType::kGre);
  EXPECT_EQ(rk.inner_l3_offset, kNoOffset);
  // Flags announce more than is there.
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(IPPROTO_GRE, Bytes{0xb0, 0, 8, 0, 0, 0, 0, 0}))),
            ParseError::kTruncated);
}

TEST(Parser, IpInIp) {
  const ParseResult r = parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_IPIP, ipv4(IPPROTO_TCP, tcp()))));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.tunnel(), TunnelType::kIpInIp);
  EXPECT_EQ(r.inner_l3_offset, 34);
  EXPECT_EQ(r.inner_l4_offset, 54);
  // The inner header is checked like any other.
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(IPPROTO_IPV6, ipv4(IPPROTO_TCP, tcp())))),
            ParseError::kBadVersion);
}

TEST(Parser, MplsStack) {
  const Bytes ip = ipv4(IPPROTO_UDP, udp(1, 2, payload(4)));
  Bytes stack;
  for (int i = 0; i < 3; i++)
    stack = cat({stack, mpls_label(100 + i, i == 2)});
  const ParseResult r = parse_frame(eth(ETH_P_MPLS_UC, cat({stack, ip})));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.l2(), L2Type::kEtherMpls);
  EXPECT_EQ(r.l3_offset, 26);
  EXPECT_EQ(r.type.l4(), L4Type::kUdp);
  const ParseResult r6 =
      parse_frame(eth(ETH_P_MPLS_UC, cat({mpls_label(1, true), ipv6(IPPROTO_UDP, udp(1, 2, {}))})));
  ASSERT_TRUE(r6.ok());
  EXPECT_EQ(r6.type.l3(), L3Type::kIpv6);
}

TEST(Parser, Fragments) {
  // First fragment: the UDP length covers the whole datagram, larger than this fragment.
  Bytes first_udp = udp(1, 2, payload(100));
  first_udp.resize(40);
  ParseResult r = parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_UDP, first_udp, {}, 0x2000)));
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(r.type.l4(), L4Type::kUdp);
  // A first fragment that cuts the TCP header: not descended into.
  r = parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_TCP, payload(12), {}, 0x2000)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.l4(), L4Type::kFragment);
  EXPECT_EQ(r.l4_offset, kNoOffset);
  // Non-first fragment.
  r = parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_TCP, payload(8), {}, 0x0001)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.l4(), L4Type::kFragment);
  EXPECT_EQ(r.headers_len, 34);
  // A late fragment that still ends inside 65535 bytes (offset 65504, 27 bytes).
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(IPPROTO_UDP, payload(7), {}, (65528 - 24) / 8))),
            ParseError::kOk);
  // A first fragment of a VXLAN datagram is not descended into.
  Bytes vx = udp(1, 4789, vxlan(1, eth(ETH_P_IP, ipv4(6, tcp()))));
  r = parse_frame(eth(ETH_P_IP, ipv4(IPPROTO_UDP, vx, {}, 0x2000)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.tunnel(), TunnelType::kNone);
  // IPv6: atomic fragment (offset 0, M=0) carries the whole datagram.
  r = parse_frame(eth(ETH_P_IPV6, ipv6(IPPROTO_FRAGMENT, ipv6_frag(IPPROTO_TCP, 0, false, tcp()))));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.l4(), L4Type::kTcp);
  EXPECT_EQ(r.l4_offset, 62);
  r = parse_frame(
      eth(ETH_P_IPV6, ipv6(IPPROTO_FRAGMENT, ipv6_frag(IPPROTO_TCP, 1280, true, payload(64)))));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.type.l4(), L4Type::kFragment);
}

// --- One crafted frame per ParseError ------------------------------------------------------

TEST(ParserErrors, Truncated) {
  EXPECT_EQ(err({}), ParseError::kTruncated);
  EXPECT_EQ(err(payload(13)), ParseError::kTruncated);
  EXPECT_EQ(err(cat({eth_header(ETH_P_8021Q), Bytes{0, 5}})), ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_IP, payload(19, 0x45))), ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_IPV6, payload(39, 0x60))), ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(IPPROTO_TCP, payload(10)))), ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(IPPROTO_UDP, payload(7)))), ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_MPLS_UC, mpls_label(1, false))), ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_MPLS_UC, mpls_label(1, true))), ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(IPPROTO_UDP, udp(1, 4789, payload(7))))),
            ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(IPPROTO_UDP, udp(1, 4789, vxlan(1, payload(13)))))),
            ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_IPV6, ipv6(IPPROTO_DSTOPTS, payload(6)))), ParseError::kTruncated);
  EXPECT_EQ(err(eth(ETH_P_IPV6, ipv6(IPPROTO_FRAGMENT, payload(7)))), ParseError::kTruncated);
  // ND neighbour solicitation shorter than its fixed part.
  EXPECT_EQ(err(eth(ETH_P_IPV6, ipv6(IPPROTO_ICMPV6, Bytes{135, 0, 0, 0, 0, 0, 0, 0}))),
            ParseError::kTruncated);
}

TEST(ParserErrors, BadVersion) {
  EXPECT_EQ(err(eth(ETH_P_IP, ipv6(IPPROTO_UDP, udp(1, 2, {})))), ParseError::kBadVersion);
  EXPECT_EQ(err(eth(ETH_P_IPV6, ipv4(IPPROTO_UDP, cat({udp(1, 2, {}), payload(20)})))),
            ParseError::kBadVersion);
  Bytes g = geneve_frame({});
  g[62] |= 0x40;  // Geneve version 1
  EXPECT_EQ(err(g), ParseError::kBadVersion);
}

TEST(ParserErrors, BadHeaderLength) {
  Bytes f = tcp_v4_frame();
  f[14] = 0x44;  // IHL 4
  EXPECT_EQ(err(f), ParseError::kBadHeaderLength);
  f = eth(ETH_P_IP, ipv4(IPPROTO_UDP, udp(1, 2, {})));
  f[14] = 0x47;  // IHL 7 (28 bytes) with total length 28: fine ...
  f[17] = 27;    // ... but total length 27 < 28
  EXPECT_EQ(err(f), ParseError::kBadHeaderLength);
  f = tcp_v4_frame();
  f[34 + 12] = 0x40;  // TCP data offset 4
  EXPECT_EQ(err(f), ParseError::kBadHeaderLength);
  f = eth(ETH_P_IP, ipv4(IPPROTO_TCP, tcp({}, payload(3))));
  f[34 + 12] = 0x70;  // data offset 7 (28 bytes) in a 23-byte segment
  EXPECT_EQ(err(f), ParseError::kBadHeaderLength);
  // IPv6 extension header longer than the payload.
  f = eth(ETH_P_IPV6, ipv6(IPPROTO_ROUTING, ipv6_ext(IPPROTO_UDP, {0, 0}, udp(1, 2, {}))));
  f[54 + 1] = 3;
  EXPECT_EQ(err(f), ParseError::kBadHeaderLength);
  // Hop-by-hop anywhere but first.
  f = eth(ETH_P_IPV6, ipv6(IPPROTO_DSTOPTS, ipv6_ext(IPPROTO_HOPOPTS, {},
                                                     ipv6_ext(IPPROTO_UDP, {}, udp(1, 2, {})))));
  EXPECT_EQ(err(f), ParseError::kBadHeaderLength);
  // Geneve options longer than the datagram.
  Bytes g = geneve_frame({});
  g[62] = 0x3f;
  EXPECT_EQ(err(g), ParseError::kBadHeaderLength);
}

TEST(ParserErrors, LengthMismatch) {
  Bytes f = tcp_v4_frame();
  f.pop_back();
  EXPECT_EQ(err(f), ParseError::kLengthMismatch);
  f = eth(ETH_P_IPV6, ipv6(IPPROTO_UDP, udp(1, 2, payload(5))));
  f.pop_back();
  EXPECT_EQ(err(f), ParseError::kLengthMismatch);
  f = eth(ETH_P_IP, ipv4(IPPROTO_UDP, udp(1, 2, payload(5))));
  f[34 + 5] = 7;  // UDP length 7
  EXPECT_EQ(err(f), ParseError::kLengthMismatch);
  f[34 + 5] = 14;  // UDP length 14 > 13 bytes
  EXPECT_EQ(err(f), ParseError::kLengthMismatch);
  f[34 + 5] = 12;  // shorter than the IP payload: trailing bytes are allowed
  EXPECT_EQ(err(f), ParseError::kOk);
}

TEST(ParserErrors, TooManyHeaders) {
  Bytes tags;
  for (int i = 0; i < 5; i++)
    tags = cat({tags, vlan_tag(10, i < 4 ? ETH_P_8021Q : ETH_P_IP)});
  const Bytes five = cat({eth_header(ETH_P_8021AD), tags, ipv4(IPPROTO_UDP, udp(1, 2, {}))});
  EXPECT_EQ(err(five), ParseError::kTooManyHeaders);
  ParseOptions o;
  o.max_vlan_tags = 5;
  EXPECT_EQ(err(five, o), ParseError::kOk);
  EXPECT_EQ(parse_frame(five, o).l3_offset, 14 + 20);
  EXPECT_EQ(parse_frame(five, o).type.l2(), L2Type::kEtherQinq);
  o.max_vlan_tags = 0;
  EXPECT_EQ(err(eth(ETH_P_8021Q, cat({vlan_tag(1, ETH_P_IP), ipv4(17, udp(1, 2, {}))})), o),
            ParseError::kTooManyHeaders);

  Bytes labels;
  for (int i = 0; i < 9; i++)
    labels = cat({labels, mpls_label(i, i == 8)});
  const Bytes mpls = eth(ETH_P_MPLS_UC, cat({labels, ipv4(IPPROTO_UDP, udp(1, 2, {}))}));
  EXPECT_EQ(err(mpls), ParseError::kTooManyHeaders);
  ParseOptions m;
  m.max_mpls_labels = 9;
  EXPECT_EQ(err(mpls, m), ParseError::kOk);

  Bytes chain = udp(1, 2, {});
  for (int i = 0; i < 9; i++)
    chain = ipv6_ext(i == 0 ? uint8_t{IPPROTO_UDP} : uint8_t{IPPROTO_DSTOPTS}, {}, chain);
  const Bytes v6 = eth(ETH_P_IPV6, ipv6(IPPROTO_DSTOPTS, chain));
  EXPECT_EQ(err(v6), ParseError::kTooManyHeaders);
  ParseOptions x;
  x.max_ipv6_ext_headers = 9;
  EXPECT_EQ(err(v6, x), ParseError::kOk);
}

TEST(ParserErrors, BadOption) {
  // IPv4: option length 1; option running past the header.
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(17, udp(1, 2, {}), {7, 1, 0, 0}))), ParseError::kBadOption);
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(17, udp(1, 2, {}), {7, 9, 0, 0, 0, 0, 0, 0}))),
            ParseError::kBadOption);
  // IPv6 TLV option running past its header (PadN claiming 7 bytes in a 6-byte area).
  EXPECT_EQ(err(eth(ETH_P_IPV6, ipv6(IPPROTO_HOPOPTS, Bytes{17, 0, 1, 7, 0, 0, 0, 0}))),
            ParseError::kBadOption);
  // Geneve option running past the options area.
  EXPECT_EQ(err(geneve_frame({0, 1, 1, 2, 0, 0, 0, 0})), ParseError::kBadOption);
  // ND option of length 0.
  const Bytes ns = cat({Bytes{135, 0, 0, 0}, payload(20, 0)});
  EXPECT_EQ(err(eth(ETH_P_IPV6, ipv6(IPPROTO_ICMPV6, cat({ns, Bytes{1, 0, 0, 0, 0, 0, 0, 0}})))),
            ParseError::kBadOption);
  EXPECT_EQ(err(eth(ETH_P_IPV6, ipv6(IPPROTO_ICMPV6, cat({ns, Bytes{1, 1, 2, 0, 0, 0, 0, 1}})))),
            ParseError::kOk);
  EXPECT_EQ(err(eth(ETH_P_IPV6, ipv6(IPPROTO_ICMPV6, cat({ns, Bytes{1, 2, 2, 0, 0, 0, 0, 1}})))),
            ParseError::kBadOption);
}

TEST(ParserErrors, BadFragment) {
  // Offset 65528 with 16 bytes: the datagram would end past 65535 (ping of death).
  EXPECT_EQ(err(eth(ETH_P_IP, ipv4(IPPROTO_UDP, payload(16), {}, 8191))), ParseError::kBadFragment);
  EXPECT_EQ(err(eth(ETH_P_IPV6,
                    ipv6(IPPROTO_FRAGMENT, ipv6_frag(IPPROTO_UDP, 65528, false, payload(16))))),
            ParseError::kBadFragment);
}

TEST(ParserErrors, Unsupported) {
  // A jumbogram: payload length 0 and a hop-by-hop header with the jumbo option.
  Bytes f = eth(ETH_P_IPV6,
                ipv6(IPPROTO_HOPOPTS, Bytes{17, 0, 0xc2, 4, 0, 1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0}));
  f[18] = f[19] = 0;
  EXPECT_EQ(err(f), ParseError::kUnsupported);
  // The jumbo option in a packet with a payload length.
  EXPECT_EQ(err(eth(ETH_P_IPV6, ipv6(IPPROTO_HOPOPTS,
                                     ipv6_ext(IPPROTO_UDP, {0xc2, 4, 0, 1, 0, 0}, udp(1, 2, {}))))),
            ParseError::kUnsupported);
}

TEST(ParserErrors, HeadersTooLong) {
  // A 2 KiB hop-by-hop header: fine in a linear frame, beyond kMaxChainedHeaderBytes in a
  // chain whose head holds only the Ethernet header.
  Bytes body(2046, 0);
  body[0] = 1;  // one PadN covering the whole area
  body[1] = 255;
  Bytes f = eth(ETH_P_IPV6, ipv6(IPPROTO_HOPOPTS, ipv6_ext(IPPROTO_UDP, body, udp(1, 2, {}))));
  // The PadN covers 257 bytes; the zeros after it are Pad1 options.
  ASSERT_EQ(err(f), ParseError::kOk);
  Chain c(f, {14, 100});
  EXPECT_EQ(parse_packet(c.head()), ParseError::kHeadersTooLong);
  EXPECT_EQ(c.head().l3_offset(), kNoOffset);
}

TEST(ParserErrors, EveryValueHasAName) {
  for (int e = 0; e < static_cast<int>(ParseError::kCount); e++) {
    EXPECT_STRNE(to_string(static_cast<ParseError>(e)), "?");
  }
}

// --- Truncation at every length --------------------------------------------------------------

TEST(Parser, EveryTruncationIsRejected) {
  const Bytes v6_chain =
      ipv6_ext(IPPROTO_ROUTING, {5, 2, 0, 0},
               ipv6_ext(IPPROTO_FRAGMENT, {0, 0, 0, 0},
                        ipv6_frag(IPPROTO_UDP, 0, false, udp(3, 4, payload(2)))));
  const Bytes gre_inner = eth(ETH_P_IP, ipv4(IPPROTO_ICMP, icmp_echo()));
  const Bytes qinq_tags = cat({vlan_tag(7, ETH_P_8021Q), vlan_tag(8, ETH_P_IP)});
  const Bytes mpls_stack = cat({mpls_label(5, false), mpls_label(6, true)});
  const std::vector<Bytes> frames = {
      tcp_v4_frame(),
      eth(ETH_P_8021AD,
          cat({qinq_tags, ipv4(IPPROTO_TCP, tcp({2, 4, 5, 0xb4}, payload(1)), {1, 1, 1, 0})})),
      eth(ETH_P_IPV6, ipv6(IPPROTO_HOPOPTS, v6_chain)),
      vxlan_frame(),
      geneve_frame(),
      eth(ETH_P_IP, ipv4(IPPROTO_GRE, gre(0xb000, ETH_P_TEB, gre_inner))),
      eth(ETH_P_MPLS_UC, cat({mpls_stack, ipv6(IPPROTO_ICMPV6, icmp_echo())})),
  };
  for (size_t k = 0; k < frames.size(); k++) {
    const Bytes& full = frames[k];
    const ParseResult whole = parse_frame(full);
    ASSERT_TRUE(whole.ok()) << "frame " << k << ": " << to_string(whole.error);
    for (size_t n = 0; n < full.size(); n++) {
      const ParseResult r = parse_frame(std::span(full.data(), n));
      EXPECT_TRUE(r.error == ParseError::kTruncated || r.error == ParseError::kLengthMismatch)
          << "frame " << k << " cut at " << n << ": " << to_string(r.error);
      EXPECT_EQ(r.l3_offset, kNoOffset);
      EXPECT_EQ(r.type, PacketType());
    }
  }
}

// --- Chained packets -----------------------------------------------------------------------

TEST(Parser, ChainedMatchesLinearAtEverySplit) {
  const std::vector<Bytes> frames = {tcp_v4_frame(), vxlan_frame(), geneve_frame()};
  for (const Bytes& f : frames) {
    const ParseResult r = parse_frame(f);
    ASSERT_TRUE(r.ok());
    for (size_t a = 0; a <= f.size(); a += 3) {
      for (size_t b = 0; a + b <= f.size(); b += 7) {
        Chain c(f, {a, b});
        ASSERT_EQ(parse_packet(c.head()), ParseError::kOk) << a << "+" << b;
        expect_same(r, c.head());
      }
    }
  }
}

TEST(Parser, ParsePacketLinear) {
  Bytes f = vxlan_frame();
  Bytes buf(f.size() + 200);
  Packet p;
  p.init(buf.data(), static_cast<uint32_t>(buf.size()), kDefaultHeadroom, kNoPool);
  std::memcpy(p.append(static_cast<uint32_t>(f.size())), f.data(), f.size());
  ASSERT_EQ(parse_packet(p), ParseError::kOk);
  expect_same(parse_frame(f), p);
  // A failed parse clears what an earlier one recorded.
  p.set_data_len(40);
  EXPECT_EQ(parse_packet(p), ParseError::kLengthMismatch);
  EXPECT_EQ(p.l3_offset(), kNoOffset);
  EXPECT_EQ(p.packet_type(), PacketType());
}

// --- TCP option corner cases ---------------------------------------------------------------

ParseError tcp_opts(const Bytes& opts) {
  return err(eth(ETH_P_IP, ipv4(IPPROTO_TCP, tcp(opts, payload(4)))));
}

TEST(ParserTcpOptions, CornerCases) {
  EXPECT_EQ(tcp_opts({1, 1, 1, 1}), ParseError::kOk);           // NOPs only
  EXPECT_EQ(tcp_opts({0, 0xff, 0xff, 0xff}), ParseError::kOk);  // EOL, then ignored bytes
  EXPECT_EQ(tcp_opts({2, 4, 5, 0xb4}), ParseError::kOk);        // MSS
  EXPECT_EQ(tcp_opts({2, 3, 5, 0}), ParseError::kBadOption);    // MSS of length 3
  EXPECT_EQ(tcp_opts({3, 3, 7, 0}), ParseError::kOk);           // window scale + EOL
  EXPECT_EQ(tcp_opts({3, 4, 7, 0}), ParseError::kBadOption);    // window scale length 4
  EXPECT_EQ(tcp_opts({4, 2, 1, 1}), ParseError::kOk);           // SACK permitted
  EXPECT_EQ(tcp_opts({4, 3, 1, 1}), ParseError::kBadOption);
  EXPECT_EQ(tcp_opts({1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}), ParseError::kOk);  // timestamps
  EXPECT_EQ(tcp_opts({1, 1, 8, 9, 0, 0, 0, 1, 0, 0, 0, 0}), ParseError::kBadOption);
  EXPECT_EQ(tcp_opts({1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}), ParseError::kOk);  // one block
  EXPECT_EQ(tcp_opts({1, 1, 5, 6, 0, 0, 0, 1}), ParseError::kBadOption);        // half a block
  const Bytes sack4 = cat({Bytes{1, 1, 5, 34}, payload(32, 0)});
  EXPECT_EQ(tcp_opts(sack4), ParseError::kOk);                      // four blocks fill 40 bytes
  EXPECT_EQ(tcp_opts({30, 6, 1, 2, 3, 4, 0, 0}), ParseError::kOk);  // unknown kind, length 6
  EXPECT_EQ(tcp_opts({30, 2, 0, 0}), ParseError::kOk);              // unknown, empty value
  EXPECT_EQ(tcp_opts({30, 1, 0, 0}), ParseError::kBadOption);       // length < 2
  EXPECT_EQ(tcp_opts({30, 0, 0, 0}), ParseError::kBadOption);       // length 0 (no progress)
  EXPECT_EQ(tcp_opts({1, 1, 1, 30}), ParseError::kBadOption);       // kind without length
  EXPECT_EQ(tcp_opts({1, 1, 30, 3}), ParseError::kBadOption);       // past the header
  Bytes forty(40, 1);
  EXPECT_EQ(tcp_opts(forty), ParseError::kOk);  // data offset 15
}

TEST(ParseStatsTest, Counts) {
  ParseStats s;
  s.count(ParseError::kOk);
  s.count(ParseError::kOk);
  s.count(ParseError::kBadOption);
  EXPECT_EQ(s.total(), 3u);
  EXPECT_EQ(s.accepted(), 2u);
  EXPECT_EQ(s.rejected(), 1u);
  EXPECT_EQ(s[ParseError::kBadOption], 1u);
  ParseStats t;
  t.count(ParseError::kTruncated);
  s.merge(t);
  EXPECT_EQ(s.rejected(), 2u);
  s.clear();
  EXPECT_EQ(s.total(), 0u);
}

}  // namespace
}  // namespace ferry::proto
