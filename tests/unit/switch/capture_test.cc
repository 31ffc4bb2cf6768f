// Real captures through the bridge.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bridge_fixture.h"
#include "pcap/pcap_file.h"
#include "switch/vlan_tag.h"

namespace ferry::sw::test {
namespace {

std::vector<Bytes> read_capture(const std::string& name) {
  std::vector<pcap::Frame> frames;
  std::string error;
  EXPECT_TRUE(pcap::PcapReader::read_all(std::string(FERRY_TEST_DATA) + "/captures/" + name,
                                         &frames, &error))
      << error;
  std::vector<Bytes> out;
  for (auto& f : frames)
    out.push_back(std::move(f.data));
  return out;
}

MacAddress src_of(const Bytes& f) {
  MacAddress m;
  std::copy(f.begin() + 6, f.begin() + 12, m.bytes);
  return m;
}

using Captures = BridgeFixture;

// Double-tagged pings (outer 118 / 209, inner 10 / 20) arrive on a trunk; the outer VLAN
// decides, the inner tag is payload, and every copy leaves tagged with the same outer VID.
TEST_F(Captures, VlanPacketsStayInTheirVlan) {
  std::vector<Bytes> frames = read_capture("VlanPackets.pcap");
  ASSERT_EQ(frames.size(), 26u);
  VlanSet all = VlanSet::all();
  port(0).vlan = PortVlan::trunk(all);
  port(1).vlan = PortVlan::trunk(all);
  port(2).vlan = PortVlan::access(118);
  port(3).vlan = PortVlan::access(209);
  uint32_t forwarded = 0, unicast = 0;
  for (const Bytes& f : frames) {
    // Echo requests enter on port 0, the rest on port 1, so both directions are learned.
    bool request = f.size() > 42 && f[12] == 0x81 && f[16] == 0x81 && f[42] == 8;
    uint16_t in = request ? 0 : 1;
    OuterTag outer;
    outer.tpid = static_cast<uint16_t>((f[12] << 8) | f[13]);
    outer.tci = static_cast<uint16_t>((f[14] << 8) | f[15]);
    ForwardDecision d = send(f, in);
    if (outer.tpid != ETH_P_8021Q) {
      EXPECT_EQ(d.drop, DropReason::kVlanIngress);  // untagged on a trunk without native VLAN
      continue;
    }
    ASSERT_NE(d.kind, ForwardKind::kDrop) << to_string(d.drop);
    forwarded++;
    unicast += d.kind == ForwardKind::kUnicast;
    EXPECT_EQ(d.vid(), outer.tci & 0xfff);
    d.ports.for_each([&](uint16_t out) {
      Bytes e = egress(d, out);
      if (out <= 1) {
        EXPECT_EQ(e, f);  // trunk to trunk: the same frame
      } else {
        EXPECT_EQ(config_.port(out).vlan.tag, d.vid());
        Bytes untagged = f;
        untagged.erase(untagged.begin() + 12, untagged.begin() + 16);
        EXPECT_EQ(e, untagged);
      }
    });
  }
  EXPECT_EQ(forwarded, 24u);
  EXPECT_EQ(unicast, 18u);  // pings after the first request of each VLAN; CDP is flooded
  EXPECT_EQ(stats_.packets, 26u);
  EXPECT_EQ(stats_.total_drops(), 2u);
}

// The ARP request for 192.168.2.254 (outer VLAN 666, inner 200) answered by the bridge.
TEST_F(Captures, ArpRequestWithVlanIsSuppressed) {
  std::vector<Bytes> frames = read_capture("ArpRequestWithVlan.pcap");
  ASSERT_EQ(frames.size(), 1u);
  VlanSet s;
  s.add(666);
  port(0).vlan = PortVlan::trunk(s);
  port(0).arp_suppress = true;
  port(1).vlan = PortVlan::trunk(s);
  const MacAddress owner = mac(0x0200c0a802fe);
  bridge_.neighbors().add_static(NeighborKey::ipv4(0xc0a802fe, 666), owner);
  const Bytes& req = frames[0];
  ForwardDecision d = send(req, 0);
  ASSERT_EQ(d.kind, ForwardKind::kReply);
  Bytes reply = egress(d, 0);
  // Expected: the request's tags, a reply from the owner to the asker.
  MacAddress asker = src_of(req);
  auto tci = [&](size_t at) { return static_cast<uint16_t>((req[at] << 8) | req[at + 1]); };
  ASSERT_EQ(tci(14) & 0xfff, 666);
  ASSERT_EQ(tci(18) & 0xfff, 200);
  Bytes expected =
      ethernet(asker, owner, ETH_P_ARP, arp(ARPOP_REPLY, owner, 0xc0a802fe, asker, 0xc0a802c8),
               {{ETH_P_8021Q, tci(14)}, {ETH_P_8021Q, tci(18)}});
  EXPECT_EQ(reply, expected);
  // Without the binding it is flooded on the VLAN.
  bridge_.neighbors().remove(NeighborKey::ipv4(0xc0a802fe, 666));
  d = send(req, 0);
  EXPECT_EQ(d.kind, ForwardKind::kFlood);
  EXPECT_EQ(d.ports, ports({1}));
}

// The DAD solicitation is flooded, the advertisement teaches the binding; a later
// solicitation for that address is answered.
TEST_F(Captures, NeighbourDiscoveryCapture) {
  std::vector<Bytes> frames = read_capture("IcmpV6_NeighAdvSoli.pcap");
  ASSERT_EQ(frames.size(), 2u);
  access_ports({0, 1, 2});
  port(1).nd_suppress = true;
  EXPECT_EQ(send(frames[0], 0).kind, ForwardKind::kFlood);
  EXPECT_EQ(send(frames[1], 0).kind, ForwardKind::kFlood);
  Ipv6Address target;
  std::copy(frames[0].begin() + 14 + 48, frames[0].begin() + 14 + 64, target.bytes);
  MacAddress m;
  ASSERT_TRUE(bridge_.neighbors().lookup(NeighborKey::ipv6(target, 1), &m));
  EXPECT_EQ(m, src_of(frames[1]));
  Ipv6Address asker = ip6(0xfe80, 7);
  Ipv6Address sn = solicited_node(target);
  ForwardDecision d = send(ethernet(ipv6_multicast_mac(sn), mac(0x525400000007), ETH_P_IPV6,
                                    ipv6(asker, sn, IPPROTO_ICMPV6, 255, ns_body(target, nullptr))),
                           1);
  EXPECT_EQ(d.kind, ForwardKind::kReply);
}

// A TCP stream between two ports: after the first packet each way, all unicast.
TEST_F(Captures, OneTcpStreamIsLearned) {
  std::vector<Bytes> frames = read_capture("one_tcp_stream.pcap");
  ASSERT_FALSE(frames.empty());
  access_ports({0, 1, 2, 3});
  MacAddress client = src_of(frames[0]);
  uint32_t flooded = 0;
  for (const Bytes& f : frames) {
    uint16_t in = src_of(f) == client ? 0 : 1;
    ForwardDecision d = send(f, in);
    ASSERT_NE(d.kind, ForwardKind::kDrop);
    if (d.kind == ForwardKind::kFlood) {
      flooded++;
      EXPECT_EQ(d.ports.count(), 3u);
    } else {
      EXPECT_EQ(d.ports, ports({static_cast<uint16_t>(1 - in)}));
    }
  }
  EXPECT_EQ(flooded, 1u);  // only the SYN: the SYN-ACK's destination was learned from it
  EXPECT_EQ(stats_.fdb_learned, 2u);
}

// Every capture of the test data, every frame, from a trunk: nothing crashes, every drop
// has a reason, outputs stay in the VLAN.
TEST_F(Captures, AllCapturesThroughABridge) {
  const char* names[] = {
      "650HttpResponses.pcap", "GrePackets.pcap", "IPv4Frag.pcap", "IcmpPackets.pcap",
      "MplsPackets.pcap",      "Vxlan1.pcap",     "llc_vlan.pcap", "four_ipv6_http_streams.pcap",
      "tcp-malformed.pcap",    "gtp-u.pcap"};
  VlanSet all = VlanSet::all();
  port(0).vlan = PortVlan::trunk(all, 1);
  port(1).vlan = PortVlan::trunk(all, 1);
  port(2).vlan = PortVlan::access(1);
  port(3).vlan = PortVlan::dot1q_tunnel(1);
  uint64_t frames_total = 0;
  for (const char* name : names) {
    std::vector<Bytes> frames = read_capture(name);
    for (size_t i = 0; i < frames.size(); i++) {
      frames_total++;
      ForwardDecision d = send(frames[i], static_cast<uint16_t>(i % 4));
      if (d.kind == ForwardKind::kDrop) {
        EXPECT_NE(d.drop, DropReason::kNone);
      } else {
        EXPECT_TRUE(config_.members(d.vid()).contains(d.ports));
      }
      // Keep memory bounded.
      for (Packet* p : held_)
        free_packet(p);
      held_.clear();
    }
  }
  EXPECT_EQ(stats_.packets, frames_total);
}

}  // namespace
}  // namespace ferry::sw::test
