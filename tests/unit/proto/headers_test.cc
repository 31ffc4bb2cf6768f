// Header views: sizes, accessors and the option iterators, over bytes laid out by hand.

#include <vector>

#include <gtest/gtest.h>

#include "proto/arp.h"
#include "proto/ethernet.h"
#include "proto/geneve.h"
#include "proto/gre.h"
#include "proto/icmp.h"
#include "proto/icmpv6.h"
#include "proto/ipv4.h"
#include "proto/ipv6.h"
#include "proto/mpls.h"
#include "proto/tcp.h"
#include "proto/udp.h"
#include "proto/vlan.h"
#include "proto/vxlan.h"

namespace ferry::proto {
namespace {

template <typename T>
const T* view(const std::vector<uint8_t>& b) {
  return reinterpret_cast<const T*>(b.data());
}

TEST(Headers, MacAddress) {
  const MacAddress m = MacAddress::from_u64(0x0123456789abULL);
  EXPECT_EQ(m.bytes[0], 0x01);
  EXPECT_EQ(m.bytes[5], 0xab);
  EXPECT_EQ(m.to_u64(), 0x0123456789abULL);
  EXPECT_TRUE(m.is_multicast());
  EXPECT_FALSE(m.is_broadcast());
  EXPECT_TRUE(kBroadcastMac.is_broadcast());
  EXPECT_TRUE(MacAddress().is_zero());
  EXPECT_TRUE(MacAddress::from_u64(0x020000000001ULL).is_locally_administered());
}

TEST(Headers, VlanAndMpls) {
  const std::vector<uint8_t> tag = {0xb0, 0x64, 0x08, 0x00};  // PCP 5, DEI 1, VID 100
  EXPECT_EQ(view<VlanTag>(tag)->pcp(), 5);
  EXPECT_TRUE(view<VlanTag>(tag)->dei());
  EXPECT_EQ(view<VlanTag>(tag)->vid(), 100);
  EXPECT_TRUE(is_vlan_tpid(ETH_P_8021AD));
  EXPECT_FALSE(is_vlan_tpid(ETH_P_IP));
  const std::vector<uint8_t> label = {0x00, 0x01, 0x4b, 0x40};  // label 20, TC 5, S, TTL 64
  EXPECT_EQ(view<MplsLabel>(label)->label(), 20u);
  EXPECT_EQ(view<MplsLabel>(label)->traffic_class(), 5);
  EXPECT_TRUE(view<MplsLabel>(label)->bottom_of_stack());
  EXPECT_EQ(view<MplsLabel>(label)->ttl(), 64);
}

TEST(Headers, Ipv4) {
  std::vector<uint8_t> b = {0x46, 0xb9, 0x00, 0x30, 0x12, 0x34, 0x20, 0x03, 64, 6, 0, 0,
                            10,   0,    0,    1,    10,   0,    0,    2,    1,  1, 0, 0};
  const Ipv4Header* ip = view<Ipv4Header>(b);
  EXPECT_EQ(ip->version(), 4);
  EXPECT_EQ(ip->header_len(), 24u);
  EXPECT_EQ(ip->options_len(), 4u);
  EXPECT_EQ(ip->dscp(), 46);
  EXPECT_EQ(ip->ecn(), 1);
  EXPECT_EQ(ip->fragment_offset(), 24u);
  EXPECT_TRUE(ip->more_fragments());
  EXPECT_FALSE(ip->dont_fragment());
  EXPECT_TRUE(ip->is_fragment());
  EXPECT_EQ(ip->src.value(), 0x0a000001u);
  EXPECT_TRUE(ipv4_options_valid(ip->options()));
  Ipv4OptionIterator it(ip->options());
  Ipv4Option o;
  int n = 0;
  while (it.next(&o))
    n++;
  EXPECT_EQ(n, 3);  // NOP NOP EOL
  b[22] = 68;       // timestamp option without a length byte in reach
  b[23] = 4;
  EXPECT_FALSE(ipv4_options_valid(view<Ipv4Header>(b)->options()));
}

TEST(Headers, Ipv6AndExtensions) {
  std::vector<uint8_t> b(40, 0);
  b[0] = 0x6a;
  b[1] = 0xbc;
  b[2] = 0xde;
  b[3] = 0xf0;
  b[5] = 8;
  b[6] = IPPROTO_UDP;
  const Ipv6Header* ip = view<Ipv6Header>(b);
  EXPECT_EQ(ip->version(), 6);
  EXPECT_EQ(ip->traffic_class(), 0xab);
  EXPECT_EQ(ip->flow_label(), 0xcdef0u);
  EXPECT_EQ(ip->payload_length.value(), 8);
  const std::vector<uint8_t> frag = {IPPROTO_TCP, 0, 0x05, 0x01, 0, 0, 0, 9};
  EXPECT_EQ(view<Ipv6FragmentHeader>(frag)->fragment_offset(), 0x500u);
  EXPECT_TRUE(view<Ipv6FragmentHeader>(frag)->more_fragments());
  EXPECT_FALSE(view<Ipv6FragmentHeader>(frag)->is_atomic());
  EXPECT_EQ(view<Ipv6FragmentHeader>(frag)->identification.value(), 9u);
  const std::vector<uint8_t> ext = {IPPROTO_UDP, 2};
  EXPECT_EQ(view<Ipv6ExtHeader>(ext)->header_len(), 24u);
  EXPECT_TRUE(is_ipv6_ext_header(IPPROTO_ROUTING));
  EXPECT_FALSE(is_ipv6_ext_header(IPPROTO_TCP));

  // Pad1, router alert, PadN(1).
  const std::vector<uint8_t> opts = {0, 5, 2, 0, 0, 1, 1, 0};
  Ipv6OptionIterator it(opts);
  Ipv6Option o;
  std::vector<uint8_t> types;
  while (it.next(&o))
    types.push_back(o.type);
  EXPECT_FALSE(it.malformed());
  EXPECT_EQ(types, (std::vector<uint8_t>{0, 5, 1}));
  const std::vector<uint8_t> cut = {1};  // PadN without its length
  Ipv6OptionIterator bad(cut);
  EXPECT_FALSE(bad.next(&o));
  EXPECT_TRUE(bad.malformed());
}

TEST(Headers, TcpOptionIterator) {
  std::vector<uint8_t> b = {0x04, 0xd2, 0x00, 0x50, 0,    0,    0, 1, 0, 0,
                            0,    2,    0xf0, 0x12, 0xff, 0xff, 0, 0, 0, 0};
  const std::vector<uint8_t> opts = {2,  4,  0x05, 0xb4,                      // MSS 1460
                                     1,  3,  3,    7,                         // NOP, window scale 7
                                     4,  2,                                   // SACK permitted
                                     8,  10, 0,    0,    0, 1,  0, 0, 0, 2,   // timestamps 1, 2
                                     5,  10, 0,    0,    0, 10, 0, 0, 0, 20,  // SACK 10-20
                                     99, 4,  0xaa, 0xbb,                      // unknown kind 99
                                     0,  0};                                  // EOL, padding
  b.insert(b.end(), opts.begin(), opts.end());
  const TcpHeader* tcp = view<TcpHeader>(b);
  EXPECT_EQ(tcp->src_port.value(), 1234);
  EXPECT_EQ(tcp->header_len(), 60u);
  EXPECT_TRUE(tcp->has(kTcpSyn));
  EXPECT_TRUE(tcp->has(kTcpAck));
  EXPECT_FALSE(tcp->has(kTcpFin));
  TcpOptionIterator it(*tcp);
  TcpOption o;
  std::vector<uint8_t> kinds;
  while (it.next(&o)) {
    kinds.push_back(o.kind);
    switch (o.kind) {
      case TCPOPT_MAXSEG:
        EXPECT_EQ(o.mss(), 1460);
        break;
      case TCPOPT_WINDOW:
        EXPECT_EQ(o.window_scale(), 7);
        break;
      case TCPOPT_TIMESTAMP:
        EXPECT_EQ(o.ts_val(), 1u);
        EXPECT_EQ(o.ts_ecr(), 2u);
        break;
      case TCPOPT_SACK:
        ASSERT_EQ(o.sack_block_count(), 1u);
        EXPECT_EQ(o.sack_left(0), 10u);
        EXPECT_EQ(o.sack_right(0), 20u);
        break;
      case 99:
        EXPECT_EQ(o.data_len(), 2);
        break;
      default:
        break;
    }
  }
  EXPECT_FALSE(it.malformed());
  EXPECT_EQ(kinds, (std::vector<uint8_t>{2, 1, 3, 4, 8, 5, 99, 0}));
  // A bad length stops the walk for good.
  const std::vector<uint8_t> bad = {2, 5, 0, 0, 0, 1, 1};
  TcpOptionIterator bi(bad);
  EXPECT_FALSE(bi.next(&o));
  EXPECT_TRUE(bi.malformed());
  EXPECT_FALSE(bi.next(&o));
}

TEST(Headers, UdpIcmpArp) {
  const std::vector<uint8_t> u = {0, 53, 0x12, 0x34, 0, 20, 0, 0};
  EXPECT_EQ(view<UdpHeader>(u)->dst_port.value(), 0x1234);
  EXPECT_EQ(view<UdpHeader>(u)->length.value(), 20);
  const std::vector<uint8_t> icmp = {ICMP_ECHO, 0, 0, 0, 0, 7, 0, 9};
  EXPECT_TRUE(view<IcmpHeader>(icmp)->is_echo());
  EXPECT_FALSE(view<IcmpHeader>(icmp)->is_error());
  EXPECT_EQ(view<IcmpHeader>(icmp)->sequence.value(), 9);
  std::vector<uint8_t> arp = {0, 1, 8, 0, 6, 4, 0, 1};
  arp.resize(28, 0);
  EXPECT_TRUE(view<ArpHeader>(arp)->is_ether_ipv4());
  EXPECT_EQ(view<ArpHeader>(arp)->message_len(), 28u);
  EXPECT_EQ(view<ArpEthIpv4>(arp)->header.op.value(), ARPOP_REQUEST);
}

TEST(Headers, NeighbourDiscovery) {
  std::vector<uint8_t> na = {ND_NEIGHBOR_ADVERT, 0, 0, 0, 0x60, 0, 0, 0};
  na.resize(24, 0);
  na[23] = 1;
  const std::vector<uint8_t> opt = {ND_OPT_TARGET_LINKADDR, 1, 2, 0, 0, 0, 0, 7};
  na.insert(na.end(), opt.begin(), opt.end());
  const NdNeighborAdvert* a = view<NdNeighborAdvert>(na);
  EXPECT_FALSE(a->router());
  EXPECT_TRUE(a->solicited());
  EXPECT_TRUE(a->override_flag());
  EXPECT_EQ(a->target.bytes[15], 1);
  EXPECT_EQ(nd_fixed_len(ND_NEIGHBOR_ADVERT), 24u);
  NdOptionIterator it(std::span<const uint8_t>(na).subspan(24));
  NdOption o;
  ASSERT_TRUE(it.next(&o));
  EXPECT_TRUE(o.is_link_addr());
  EXPECT_EQ(o.link_addr().to_u64(), 0x020000000007ULL);
  EXPECT_FALSE(it.next(&o));
  EXPECT_FALSE(it.malformed());
}

TEST(Headers, Tunnels) {
  const std::vector<uint8_t> g = {0xb0, 0x00, 0x65, 0x58};
  const GreHeader* gre = view<GreHeader>(g);
  EXPECT_TRUE(gre->checksum_present());
  EXPECT_TRUE(gre->key_present());
  EXPECT_TRUE(gre->sequence_present());
  EXPECT_EQ(gre->version(), 0);
  EXPECT_EQ(gre->header_len(), 16u);
  EXPECT_EQ(gre->key_offset(), 8u);
  EXPECT_EQ(gre->sequence_offset(), 12u);
  EXPECT_EQ(gre->protocol.value(), ETH_P_TEB);

  const std::vector<uint8_t> vx = {0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0};
  EXPECT_TRUE(view<VxlanHeader>(vx)->vni_valid());
  EXPECT_EQ(view<VxlanHeader>(vx)->vni(), 0x123456u);

  const std::vector<uint8_t> gn = {0x03, 0xc0, 0x65, 0x58, 0, 0, 5,    0,    0x01, 0x02,
                                   0x80, 0x01, 1,    2,    3, 4, 0x01, 0x02, 0x03, 0x00};
  const GeneveHeader* gh = view<GeneveHeader>(gn);
  EXPECT_EQ(gh->version(), 0);
  EXPECT_EQ(gh->options_len(), 12u);
  EXPECT_TRUE(gh->oam());
  EXPECT_TRUE(gh->critical());
  EXPECT_EQ(gh->vni_value(), 5u);
  GeneveOptionIterator it(gh->options());
  GeneveOption o;
  ASSERT_TRUE(it.next(&o));
  EXPECT_EQ(o.header->option_class.value(), 0x0102);
  EXPECT_TRUE(o.header->critical());
  EXPECT_EQ(o.data_len, 4u);
  ASSERT_TRUE(it.next(&o));
  EXPECT_EQ(o.data_len, 0u);
  EXPECT_FALSE(it.next(&o));
  EXPECT_FALSE(it.malformed());
}

}  // namespace
}  // namespace ferry::proto
