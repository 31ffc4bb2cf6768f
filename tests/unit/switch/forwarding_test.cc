// Learning, flooding, receive filters and the drop rules of the bridge.

#include <gtest/gtest.h>

#include "bridge_fixture.h"

#define class class_
#include <linux/virtio_net.h>
#undef class

namespace ferry::sw::test {
namespace {

const MacAddress kA = mac(0x525400000001);
const MacAddress kB = mac(0x525400000002);
const MacAddress kC = mac(0x525400000003);
const MacAddress kD = mac(0x525400000004);
const MacAddress kMcast = mac(0x01005e000001);

Bytes udp_frame(const MacAddress& dst, const MacAddress& src) {
  return ethernet(dst, src, ETH_P_IP, ipv4_udp(0x0a000001, 0x0a000002));
}

using Forwarding = BridgeFixture;

TEST_F(Forwarding, LearnsThenForwardsUnicast) {
  access_ports({0, 1, 2});
  ForwardDecision d = send(udp_frame(kB, kA), 0);
  EXPECT_EQ(d.kind, ForwardKind::kFlood);
  EXPECT_EQ(d.ports, ports({1, 2}));
  d = send(udp_frame(kA, kB), 1);
  EXPECT_EQ(d.kind, ForwardKind::kUnicast);
  EXPECT_EQ(d.ports, ports({0}));
  d = send(udp_frame(kB, kA), 0);
  EXPECT_EQ(d.ports, ports({1}));
  EXPECT_EQ(stats_.fdb_learned, 2u);
  EXPECT_EQ(stats_.unknown_unicast, 1u);
  EXPECT_EQ(stats_.forwarded_unicast, 2u);
  EXPECT_EQ(stats_.flooded, 1u);
  EXPECT_EQ(stats_.flood_copies, 2u);
  EXPECT_EQ(stats_.packets, 3u);
}

TEST_F(Forwarding, NeverBackToTheInputPort) {
  access_ports({0, 1});
  send(udp_frame(kC, kB), 0);  // kB behind port 0
  ForwardDecision d = send(udp_frame(kB, kA), 0);
  EXPECT_EQ(d.kind, ForwardKind::kDrop);
  EXPECT_EQ(d.drop, DropReason::kSamePort);
  d = send(udp_frame(proto::kBroadcastMac, kA), 0);
  EXPECT_FALSE(d.ports.test(0));
}

TEST_F(Forwarding, MoveIsCountedAndFollowed) {
  access_ports({0, 1, 2});
  send(udp_frame(kB, kA), 0);
  send(udp_frame(kB, kA), 2);  // kA moved to port 2
  EXPECT_EQ(stats_.fdb_moved, 1u);
  ForwardDecision d = send(udp_frame(kA, kB), 1);
  EXPECT_EQ(d.ports, ports({2}));
}

TEST_F(Forwarding, AgeingFloodsAgain) {
  access_ports({0, 1, 2});
  send(udp_frame(kB, kA), 0, 0);
  EXPECT_EQ(send(udp_frame(kA, kB), 1, 0).kind, ForwardKind::kUnicast);
  bridge_.age(kDefaultAgeingNs + 1, stats_);
  EXPECT_EQ(stats_.fdb_aged, 2u);
  EXPECT_EQ(send(udp_frame(kA, kC), 2, kDefaultAgeingNs + 2).kind, ForwardKind::kFlood);
}

TEST_F(Forwarding, StaticEntryRefusesSpoofedSource) {
  access_ports({0, 1, 2});
  ASSERT_TRUE(bridge_.fdb().add_static(kA, 1, 2));
  ForwardDecision d = send(udp_frame(kB, kA), 0);
  EXPECT_EQ(d.drop, DropReason::kStaticConflict);
  EXPECT_EQ(stats_.fdb_static_conflict, 1u);
  EXPECT_EQ(send(udp_frame(kA, kB), 1).ports, ports({2}));
}

TEST_F(Forwarding, BadFramesAreDroppedWithAReason) {
  access_ports({0, 1});
  EXPECT_EQ(send(Bytes(10, 0), 0).drop, DropReason::kRunt);
  EXPECT_EQ(send(udp_frame(kB, kA), 7).drop, DropReason::kBadInPort);
  EXPECT_EQ(send(udp_frame(kB, kMcast), 0).drop, DropReason::kBadSrcMac);
  EXPECT_EQ(send(udp_frame(kB, mac(0)), 0).drop, DropReason::kBadSrcMac);
  EXPECT_EQ(stats_.total_drops(), 4u);
}

// Port 1..4 guests with different receive filters; port 0 sends.
TEST_F(Forwarding, FloodOnlyToPortsThatWantIt) {
  access_ports({0, 1, 2, 3, 4});
  port(1).rx_filter = RxFilter::for_guest(kA);
  port(2).rx_filter = RxFilter::for_guest(kB);
  port(2).rx_filter.set_rx_mode(VIRTIO_NET_CTRL_RX_ALLMULTI, true);
  port(3).rx_filter = RxFilter::for_guest(kC);
  port(3).rx_filter.set_rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, true);
  port(4).rx_filter = RxFilter::for_guest(kD);
  port(4).rx_filter.set_rx_mode(VIRTIO_NET_CTRL_RX_NOBCAST, true);
  const MacAddress src = mac(0x020000000099);

  // Unknown unicast: the port whose MAC it is, and the promiscuous one.
  EXPECT_EQ(send(udp_frame(kA, src), 0).ports, ports({1, 3}));
  EXPECT_EQ(send(udp_frame(mac(0x525400000009), src), 0).ports, ports({3}));
  EXPECT_EQ(send(udp_frame(proto::kBroadcastMac, src), 0).ports, ports({1, 2, 3}));
  EXPECT_EQ(send(udp_frame(kMcast, src), 0).ports, ports({2, 3}));

  // A multicast subscription through the MAC table; ALLUNI.
  std::vector<MacAddress> multi = {kMcast};
  port(1).rx_filter.set_mac_table({}, multi);
  port(4).rx_filter.set_rx_mode(VIRTIO_NET_CTRL_RX_ALLUNI, true);
  EXPECT_EQ(send(udp_frame(kMcast, src), 0).ports, ports({1, 2, 3}));
  EXPECT_EQ(send(udp_frame(mac(0x525400000009), src), 0).ports, ports({3, 4}));
  // A secondary unicast address in the table.
  std::vector<MacAddress> uni = {mac(0x52540000000a)};
  port(2).rx_filter.set_mac_table(uni, {});
  EXPECT_EQ(send(udp_frame(mac(0x52540000000a), src), 0).ports, ports({2, 3, 4}));
  // NOMULTI / NOUNI.
  port(2).rx_filter.set_rx_mode(VIRTIO_NET_CTRL_RX_NOMULTI, true);
  EXPECT_EQ(send(udp_frame(kMcast, src), 0).ports, ports({1, 3}));
  port(4).rx_filter.set_rx_mode(VIRTIO_NET_CTRL_RX_NOUNI, true);
  EXPECT_EQ(send(udp_frame(mac(0x525400000009), src), 0).ports, ports({3}));
  // Nobody wants it.
  port(3).rx_filter.set_rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false);
  ForwardDecision d = send(udp_frame(mac(0x525400000009), src), 0);
  EXPECT_EQ(d.drop, DropReason::kNoReceiver);
}

TEST_F(Forwarding, KnownUnicastHonoursTheReceiveFilter) {
  access_ports({0, 1});
  port(1).rx_filter = RxFilter::for_guest(kA);
  send(udp_frame(kC, kB), 1);  // kB learned behind port 1, which only takes kA
  ForwardDecision d = send(udp_frame(kB, kD), 0);
  EXPECT_EQ(d.drop, DropReason::kRxFilter);
  EXPECT_EQ(send(udp_frame(kA, kD), 0).ports, ports({1}));
}

TEST_F(Forwarding, PerPortFloodFlags) {
  access_ports({0, 1, 2, 3});
  port(1).flood_unknown_unicast = false;
  port(2).flood_multicast = false;
  port(3).flood_broadcast = false;
  EXPECT_EQ(send(udp_frame(kB, kA), 0).ports, ports({2, 3}));
  EXPECT_EQ(send(udp_frame(kMcast, kA), 0).ports, ports({1, 3}));
  EXPECT_EQ(send(udp_frame(proto::kBroadcastMac, kA), 0).ports, ports({1, 2}));
}

TEST_F(Forwarding, LearningOffAndLimits) {
  access_ports({0, 1});
  port(0).learning = false;
  send(udp_frame(kB, kA), 0);
  EXPECT_EQ(bridge_.fdb().size(), 0u);
  bridge_.fdb().set_port_limit(1, 1);
  send(udp_frame(kA, kB), 1);
  send(udp_frame(kA, kC), 1);
  EXPECT_EQ(stats_.fdb_learned, 1u);
  EXPECT_EQ(stats_.fdb_port_limit, 1u);
  EXPECT_EQ(send(udp_frame(kC, kA), 0).kind, ForwardKind::kFlood);
}

TEST_F(Forwarding, DropL3UnicastInL2Multicast) {
  access_ports({0, 1});
  port(0).drop_l3_unicast_in_l2_multicast = true;
  Bytes unicast_in_bcast =
      ethernet(proto::kBroadcastMac, kA, ETH_P_IP, ipv4_udp(0x0a000001, 0x0a000002));
  EXPECT_EQ(send(unicast_in_bcast, 0).drop, DropReason::kL3UnicastInL2Multicast);
  Bytes bcast = ethernet(proto::kBroadcastMac, kA, ETH_P_IP, ipv4_udp(0x0a000001, 0xffffffff));
  EXPECT_EQ(send(bcast, 0).kind, ForwardKind::kFlood);
  Bytes mcast = ethernet(kMcast, kA, ETH_P_IP, ipv4_udp(0x0a000001, 0xe0000001));
  EXPECT_EQ(send(mcast, 0).kind, ForwardKind::kFlood);
  Bytes v6 = ethernet(
      mac(0x333300000001), kA, ETH_P_IPV6,
      ipv6(ip6(0xfd00, 1), ip6(0xfd00, 2), IPPROTO_UDP, 64, Bytes{0, 1, 0, 2, 0, 8, 0, 0}));
  EXPECT_EQ(send(v6, 0).drop, DropReason::kL3UnicastInL2Multicast);
  // Only on the port that asked for it.
  EXPECT_EQ(send(unicast_in_bcast, 1).kind, ForwardKind::kFlood);
}

TEST_F(Forwarding, CountersAreListed) {
  access_ports({0, 1});
  send(udp_frame(kB, kA), 0);
  std::vector<std::string> names;
  uint64_t packets = 0;
  stats_.for_each_counter([&](const char* name, uint64_t v) {
    names.push_back(name);
    if (std::string(name) == "packets") packets = v;
  });
  EXPECT_EQ(packets, 1u);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_GT(names.size(), 30u);
  BridgeStats sum;
  sum.merge(stats_);
  sum.merge(stats_);
  EXPECT_EQ(sum.packets, 2u);
}

TEST_F(Forwarding, CloneCopiesChainsAndMetadata) {
  Bytes frame = udp_frame(kB, kA);
  frame.resize(3000, 0xab);
  Packet* p = packet_from_bytes(*pool_, frame);
  ASSERT_NE(p, nullptr);
  held_.push_back(p);
  proto::parse_packet(*p);
  p->set_in_port(5);
  p->set_rss_hash(0x1234);
  p->set_csum_partial(34, 6);
  p->set_gso(kGsoUdpL4, 1000);
  Packet* c = clone_of(*p);
  EXPECT_TRUE(c->is_chained());
  EXPECT_EQ(packet_to_bytes(*c), frame);
  EXPECT_EQ(c->in_port(), 5);
  EXPECT_EQ(c->rss_hash(), 0x1234u);
  EXPECT_EQ(c->csum_state(), CsumState::kPartial);
  EXPECT_EQ(c->csum_start(), 34);
  EXPECT_EQ(c->gso_size(), 1000);
  EXPECT_EQ(c->packet_type(), p->packet_type());
  EXPECT_EQ(c->l4_offset(), p->l4_offset());
}

}  // namespace
}  // namespace ferry::sw::test
