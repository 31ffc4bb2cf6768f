// ARP / ND suppression and anti-spoofing.

#include <gtest/gtest.h>

#include "bridge_fixture.h"
#include "csum/packet_checksum.h"

namespace ferry::sw::test {
namespace {

const MacAddress kA = mac(0x525400000001);
const MacAddress kB = mac(0x525400000002);
const MacAddress kEvil = mac(0x5254000000ee);
constexpr uint32_t kIpA = 0x0a000001;
constexpr uint32_t kIpB = 0x0a000002;

// Independent of the csum layer: RFC 1071 over the pseudo header and the message.
uint16_t icmpv6_checksum(const Ipv6Address& src, const Ipv6Address& dst, const Bytes& msg) {
  Bytes all(src.bytes, src.bytes + 16);
  all.insert(all.end(), dst.bytes, dst.bytes + 16);
  put32(all, static_cast<uint32_t>(msg.size()));
  put32(all, IPPROTO_ICMPV6);
  all.insert(all.end(), msg.begin(), msg.end());
  if (all.size() % 2) all.push_back(0);
  uint32_t sum = 0;
  for (size_t i = 0; i < all.size(); i += 2)
    sum += (all[i] << 8) | all[i + 1];
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

Bytes with_checksum(const Ipv6Address& src, const Ipv6Address& dst, Bytes msg) {
  uint16_t c = icmpv6_checksum(src, dst, msg);
  msg[2] = static_cast<uint8_t>(c >> 8);
  msg[3] = static_cast<uint8_t>(c);
  return msg;
}

using Proxy = BridgeFixture;

TEST_F(Proxy, ArpRequestForAKnownAddressIsAnsweredByteByByte) {
  access_ports({0, 1, 2});
  port(0).arp_suppress = true;
  ASSERT_TRUE(bridge_.neighbors().add_static(NeighborKey::ipv4(kIpB, 1), kB));
  Bytes request =
      ethernet(proto::kBroadcastMac, kA, ETH_P_ARP, arp(ARPOP_REQUEST, kA, kIpA, mac(0), kIpB));
  request.resize(60, 0);  // padded to the minimum frame
  ForwardDecision d = send(request, 0);
  EXPECT_EQ(d.kind, ForwardKind::kReply);
  EXPECT_EQ(d.ports, ports({0}));
  Bytes reply = ethernet(kA, kB, ETH_P_ARP, arp(ARPOP_REPLY, kB, kIpB, kA, kIpA));
  EXPECT_EQ(egress(d, 0), reply);
  EXPECT_EQ(stats_.arp_suppressed, 1u);

  // Unknown: flooded as usual.
  d = send(ethernet(proto::kBroadcastMac, kA, ETH_P_ARP,
                    arp(ARPOP_REQUEST, kA, kIpA, mac(0), 0x0a000009)),
           0);
  EXPECT_EQ(d.kind, ForwardKind::kFlood);
  EXPECT_EQ(d.ports, ports({1, 2}));
  EXPECT_EQ(stats_.arp_nd_unknown, 1u);
  // Gratuitous ARP and probes are not answered.
  d = send(
      ethernet(proto::kBroadcastMac, kA, ETH_P_ARP, arp(ARPOP_REQUEST, kA, kIpB, mac(0), kIpB)), 0);
  EXPECT_EQ(d.kind, ForwardKind::kFlood);
  d = send(ethernet(proto::kBroadcastMac, kA, ETH_P_ARP, arp(ARPOP_REQUEST, kA, 0, mac(0), kIpB)),
           0);
  EXPECT_EQ(d.kind, ForwardKind::kFlood);
  // Only ports with suppression on.
  d = send(
      ethernet(proto::kBroadcastMac, kA, ETH_P_ARP, arp(ARPOP_REQUEST, kA, kIpA, mac(0), kIpB)), 1);
  EXPECT_EQ(d.kind, ForwardKind::kFlood);
}

TEST_F(Proxy, ArpBindingsAreLearnedFromTrafficPerVlan) {
  access_ports({0, 1});
  port(2).vlan = PortVlan::access(2);
  port(0).arp_suppress = true;
  // kB answers an ARP: the bridge learns 10.0.0.2 -> kB in VLAN 1.
  send(ethernet(kA, kB, ETH_P_ARP, arp(ARPOP_REPLY, kB, kIpB, kA, kIpA)), 1);
  EXPECT_EQ(stats_.neigh_learned, 1u);
  ForwardDecision d = send(
      ethernet(proto::kBroadcastMac, kA, ETH_P_ARP, arp(ARPOP_REQUEST, kA, kIpA, mac(0), kIpB)), 0);
  EXPECT_EQ(d.kind, ForwardKind::kReply);
  // Not in another VLAN.
  port(2).arp_suppress = true;
  d = send(
      ethernet(proto::kBroadcastMac, kA, ETH_P_ARP, arp(ARPOP_REQUEST, kA, kIpA, mac(0), kIpB)), 2);
  EXPECT_EQ(d.drop, DropReason::kNoReceiver);  // VLAN 2 has no other port
  // Ages out with the FDB.
  bridge_.age(kDefaultAgeingNs, stats_);
  EXPECT_EQ(stats_.neigh_aged, 3u);  // 10.0.0.2 in VLAN 1, the asker's 10.0.0.1 in VLANs 1, 2
}

TEST_F(Proxy, ArpReplyOnATrunkCarriesTheTag) {
  VlanSet s;
  s.add(7);
  port(0).vlan = PortVlan::trunk(s);
  port(0).arp_suppress = true;
  port(1).vlan = PortVlan::access(7);
  bridge_.neighbors().add_static(NeighborKey::ipv4(kIpB, 7), kB);
  ForwardDecision d = send(ethernet(proto::kBroadcastMac, kA, ETH_P_ARP,
                                    arp(ARPOP_REQUEST, kA, kIpA, mac(0), kIpB), {{ETH_P_8021Q, 7}}),
                           0);
  ASSERT_EQ(d.kind, ForwardKind::kReply);
  EXPECT_EQ(egress(d, 0),
            ethernet(kA, kB, ETH_P_ARP, arp(ARPOP_REPLY, kB, kIpB, kA, kIpA), {{ETH_P_8021Q, 7}}));
}

TEST_F(Proxy, NeighbourSolicitationIsAnsweredWithAValidAdvert) {
  access_ports({0, 1});
  port(0).nd_suppress = true;
  Ipv6Address ip_a = ip6(0xfd00, 1), ip_b = ip6(0xfd00, 2);
  ASSERT_TRUE(bridge_.neighbors().add_static(NeighborKey::ipv6(ip_b, 1), kB));
  Ipv6Address sn = solicited_node(ip_b);
  Bytes ns = with_checksum(ip_a, sn, ns_body(ip_b, &kA));
  ForwardDecision d = send(
      ethernet(ipv6_multicast_mac(sn), kA, ETH_P_IPV6, ipv6(ip_a, sn, IPPROTO_ICMPV6, 255, ns)), 0);
  ASSERT_EQ(d.kind, ForwardKind::kReply);
  EXPECT_EQ(d.ports, ports({0}));
  Bytes na = with_checksum(ip_b, ip_a, na_body(ip_b, kB));
  Bytes expected = ethernet(kA, kB, ETH_P_IPV6, ipv6(ip_b, ip_a, IPPROTO_ICMPV6, 255, na));
  EXPECT_EQ(egress(d, 0), expected);
  // The checksum also verifies with the csum layer on the re-parsed reply.
  proto::parse_packet(*last_egress_);
  EXPECT_EQ(csum::verify_l4(*last_egress_), csum::CsumError::kOk);
  EXPECT_EQ(stats_.nd_suppressed, 1u);

  // Without a source link-layer option the reply grows into the tailroom.
  ns = with_checksum(ip_a, sn, ns_body(ip_b, nullptr));
  d = send(
      ethernet(ipv6_multicast_mac(sn), kA, ETH_P_IPV6, ipv6(ip_a, sn, IPPROTO_ICMPV6, 255, ns)), 0);
  ASSERT_EQ(d.kind, ForwardKind::kReply);
  EXPECT_EQ(egress(d, 0), expected);

  // Duplicate address detection (from ::) is flooded so the owner defends its address.
  Ipv6Address unspec;
  ns = with_checksum(unspec, sn, ns_body(ip_b, nullptr));
  d = send(
      ethernet(ipv6_multicast_mac(sn), kA, ETH_P_IPV6, ipv6(unspec, sn, IPPROTO_ICMPV6, 255, ns)),
      0);
  EXPECT_EQ(d.kind, ForwardKind::kFlood);
  // Hop limit other than 255: not a valid NS, not answered.
  ns = with_checksum(ip_a, sn, ns_body(ip_b, &kA));
  d = send(ethernet(ipv6_multicast_mac(sn), kA, ETH_P_IPV6, ipv6(ip_a, sn, IPPROTO_ICMPV6, 64, ns)),
           0);
  EXPECT_EQ(d.kind, ForwardKind::kFlood);
}

TEST_F(Proxy, NeighbourAdvertTeachesTheBinding) {
  access_ports({0, 1});
  port(0).nd_suppress = true;
  Ipv6Address ip_a = ip6(0xfd00, 1), ip_b = ip6(0xfd00, 2);
  Ipv6Address all_nodes = ip6(0xff02, 1);
  Bytes na = with_checksum(ip_b, all_nodes, na_body(ip_b, kB));
  send(ethernet(ipv6_multicast_mac(all_nodes), kB, ETH_P_IPV6,
                ipv6(ip_b, all_nodes, IPPROTO_ICMPV6, 255, na)),
       1);
  MacAddress m;
  ASSERT_TRUE(bridge_.neighbors().lookup(NeighborKey::ipv6(ip_b, 1), &m));
  EXPECT_EQ(m, kB);
  Ipv6Address sn = solicited_node(ip_b);
  Bytes ns = with_checksum(ip_a, sn, ns_body(ip_b, &kA));
  ForwardDecision d = send(
      ethernet(ipv6_multicast_mac(sn), kA, ETH_P_IPV6, ipv6(ip_a, sn, IPPROTO_ICMPV6, 255, ns)), 0);
  EXPECT_EQ(d.kind, ForwardKind::kReply);
}

class Spoofing : public BridgeFixture {
 protected:
  void SetUp() override {
    access_ports({0, 1});
    SpoofGuard& g = port(0).spoof;
    g.macs = {kA};
    g.lock_ip = true;
    g.ipv4 = {kIpA};
    g.ipv6 = {ip6(0xfd00, 1)};
  }
};

TEST_F(Spoofing, LegitimateTrafficPasses) {
  EXPECT_EQ(send(ethernet(kB, kA, ETH_P_IP, ipv4_udp(kIpA, kIpB)), 0).kind, ForwardKind::kFlood);
  EXPECT_EQ(send(ethernet(proto::kBroadcastMac, kA, ETH_P_ARP,
                          arp(ARPOP_REQUEST, kA, kIpA, mac(0), kIpB)),
                 0)
                .kind,
            ForwardKind::kFlood);
  // DHCP discover from 0.0.0.0, ARP probe, DAD.
  EXPECT_EQ(
      send(ethernet(proto::kBroadcastMac, kA, ETH_P_IP, ipv4_udp(0, 0xffffffff, 68, 67)), 0).kind,
      ForwardKind::kFlood);
  EXPECT_EQ(
      send(ethernet(proto::kBroadcastMac, kA, ETH_P_ARP, arp(ARPOP_REQUEST, kA, 0, mac(0), kIpA)),
           0)
          .kind,
      ForwardKind::kFlood);
  Ipv6Address unspec, sn = solicited_node(ip6(0xfd00, 1));
  EXPECT_EQ(send(ethernet(ipv6_multicast_mac(sn), kA, ETH_P_IPV6,
                          ipv6(unspec, sn, IPPROTO_ICMPV6, 255, ns_body(ip6(0xfd00, 1), nullptr))),
                 0)
                .kind,
            ForwardKind::kFlood);
  EXPECT_EQ(stats_.spoof_drops(), 0u);
}

TEST_F(Spoofing, ViolationsAreDroppedAndCounted) {
  EXPECT_EQ(send(ethernet(kB, kEvil, ETH_P_IP, ipv4_udp(kIpA, kIpB)), 0).drop,
            DropReason::kSpoofMac);
  EXPECT_EQ(send(ethernet(kB, kA, ETH_P_IP, ipv4_udp(0x0a000063, kIpB)), 0).drop,
            DropReason::kSpoofIpv4);
  EXPECT_EQ(send(ethernet(kB, kA, ETH_P_IP, ipv4_udp(0, kIpB, 1234, 67)), 0).drop,
            DropReason::kSpoofIpv4);
  // ARP with a forged sender IP, or a forged sender MAC inside a legitimate frame.
  EXPECT_EQ(
      send(ethernet(proto::kBroadcastMac, kA, ETH_P_ARP, arp(ARPOP_REPLY, kA, kIpB, mac(0), kIpB)),
           0)
          .drop,
      DropReason::kSpoofArp);
  EXPECT_EQ(send(ethernet(proto::kBroadcastMac, kA, ETH_P_ARP,
                          arp(ARPOP_REPLY, kEvil, kIpA, mac(0), kIpB)),
                 0)
                .drop,
            DropReason::kSpoofArp);
  Ipv6Address other = ip6(0xfd00, 2), all_nodes = ip6(0xff02, 1);
  EXPECT_EQ(send(ethernet(kB, kA, ETH_P_IPV6,
                          ipv6(other, all_nodes, IPPROTO_UDP, 64, Bytes{0, 1, 0, 2, 0, 8, 0, 0})),
                 0)
                .drop,
            DropReason::kSpoofIpv6);
  // A neighbour advertisement for someone else's address, from the port's own address.
  EXPECT_EQ(send(ethernet(ipv6_multicast_mac(all_nodes), kA, ETH_P_IPV6,
                          ipv6(ip6(0xfd00, 1), all_nodes, IPPROTO_ICMPV6, 255, na_body(other, kA))),
                 0)
                .drop,
            DropReason::kSpoofNd);
  EXPECT_EQ(stats_.spoof_drops(), 7u);
  EXPECT_EQ(stats_.dropped(DropReason::kSpoofArp), 2u);
  // Spoofed frames teach nothing.
  EXPECT_EQ(bridge_.fdb().lookup(kEvil, 1), kNoPort);
  MacAddress m;
  EXPECT_FALSE(bridge_.neighbors().lookup(NeighborKey::ipv4(kIpB, 1), &m));
  // The unlocked port is not affected.
  EXPECT_NE(send(ethernet(kA, kEvil, ETH_P_IP, ipv4_udp(0x0a000063, kIpB)), 1).kind,
            ForwardKind::kDrop);
}

}  // namespace
}  // namespace ferry::sw::test
