// VLAN modes: access, trunk, native VLAN, QinQ (dot1q-tunnel), isolation.

#include <random>

#include <gtest/gtest.h>

#include "bridge_fixture.h"
#include "switch/vlan_tag.h"

namespace ferry::sw::test {
namespace {

const MacAddress kA = mac(0x525400000001);
const MacAddress kB = mac(0x525400000002);
using Tags = std::vector<std::pair<uint16_t, uint16_t>>;

Bytes payload() {
  return ipv4_udp(0x0a000001, 0x0a000002);
}
Bytes frame(const MacAddress& dst, const MacAddress& src, Tags tags = {}) {
  return ethernet(dst, src, ETH_P_IP, payload(), tags);
}

class Vlans : public BridgeFixture {
 protected:
  // 0: access 10, 1: access 20, 2: trunk {10, 20}, 3: trunk {10} native 20.
  void SetUp() override {
    port(0).vlan = PortVlan::access(10);
    port(1).vlan = PortVlan::access(20);
    VlanSet both;
    both.add(10);
    both.add(20);
    port(2).vlan = PortVlan::trunk(both);
    VlanSet ten;
    ten.add(10);
    port(3).vlan = PortVlan::trunk(ten, 20);
  }
};

TEST_F(Vlans, AccessToTrunksTagsAndNative) {
  ForwardDecision d = send(frame(proto::kBroadcastMac, kA), 0);
  EXPECT_EQ(d.vid(), 10);
  EXPECT_EQ(d.ports, ports({2, 3}));
  EXPECT_EQ(egress(d, 2), frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 10}}));
  EXPECT_EQ(egress(d, 3), frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 10}}));
  // The egress copy's offsets moved with the tag.
  EXPECT_EQ(last_egress_->l3_offset(), 18);
  EXPECT_EQ(last_egress_->packet_type().l2(), L2Type::kEtherVlan);

  d = send(frame(proto::kBroadcastMac, kA), 1);
  EXPECT_EQ(d.vid(), 20);
  EXPECT_EQ(d.ports, ports({2, 3}));
  EXPECT_EQ(egress(d, 2), frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 20}}));
  EXPECT_EQ(egress(d, 3), frame(proto::kBroadcastMac, kA));  // native: untagged
  EXPECT_EQ(stats_.vlan_pushed, 3u);
}

TEST_F(Vlans, TrunkToAccessPopsTheTag) {
  ForwardDecision d = send(frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 0x6000 | 10}}), 2);
  EXPECT_EQ(d.vid(), 10);
  EXPECT_EQ(d.tci >> 13, 3);  // priority kept inside the bridge
  EXPECT_EQ(d.ports, ports({0, 3}));
  EXPECT_EQ(egress(d, 0), frame(proto::kBroadcastMac, kA));
  EXPECT_EQ(last_egress_->l3_offset(), 14);
  EXPECT_EQ(egress(d, 3), frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 0x6000 | 10}}));
  EXPECT_EQ(stats_.vlan_popped, 1u);
}

TEST_F(Vlans, IngressRules) {
  // Tagged frame on an access port.
  EXPECT_EQ(send(frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 10}}), 0).drop,
            DropReason::kVlanIngress);
  // Priority-tagged frame on an access port: accepted, tag removed.
  ForwardDecision d = send(frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 0xa000}}), 0);
  EXPECT_EQ(d.vid(), 10);
  EXPECT_EQ(egress(d, 2), frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 0xa000 | 10}}));
  // VID not allowed on the trunk.
  EXPECT_EQ(send(frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 30}}), 2).drop,
            DropReason::kVlanIngress);
  // Untagged on a trunk without native VLAN.
  EXPECT_EQ(send(frame(proto::kBroadcastMac, kA), 2).drop, DropReason::kVlanIngress);
  // Untagged on a trunk with native VLAN 20.
  d = send(frame(proto::kBroadcastMac, kA), 3);
  EXPECT_EQ(d.vid(), 20);
  EXPECT_EQ(d.ports, ports({1, 2}));
  // Tagged with the native VID is accepted too.
  EXPECT_EQ(send(frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 20}}), 3).vid(), 20);
  EXPECT_EQ(stats_.dropped(DropReason::kVlanIngress), 3u);
}

TEST_F(Vlans, FdbIsPerVlan) {
  send(frame(kB, kA), 0);  // kA in VLAN 10 behind port 0
  // kA in VLAN 20 is unknown: flooded in 20 only.
  ForwardDecision d = send(frame(kA, kB), 1);
  EXPECT_EQ(d.kind, ForwardKind::kFlood);
  EXPECT_EQ(d.ports, ports({2, 3}));
  d = send(frame(kA, kB, {{ETH_P_8021Q, 10}}), 2);
  EXPECT_EQ(d.kind, ForwardKind::kUnicast);
  EXPECT_EQ(d.ports, ports({0}));
}

TEST_F(Vlans, StaleFdbEntryOutsideTheVlanIsNotUsed) {
  send(frame(kB, kA), 0);
  // Port 0 moves to VLAN 20 but its learned entry in VLAN 10 remains until flushed.
  port(0).vlan = PortVlan::access(20);
  ForwardDecision d = send(frame(kA, kB, {{ETH_P_8021Q, 10}}), 2);
  EXPECT_EQ(d.drop, DropReason::kVlanEgress);
}

TEST_F(Vlans, NativeTaggedAndInsertOffload) {
  port(3).vlan.native_tagged = true;
  port(2).vlan.vlan_insert_offload = true;
  ForwardDecision d = send(frame(proto::kBroadcastMac, kA), 1);
  EXPECT_EQ(egress(d, 3), frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 20}}));
  // The offload port gets an untagged frame and the TCI in the descriptor.
  EXPECT_EQ(egress(d, 2), frame(proto::kBroadcastMac, kA));
  EXPECT_TRUE(last_egress_->has_vlan_tci());
  EXPECT_EQ(last_egress_->vlan_tci(), 20);
  EXPECT_EQ(stats_.vlan_offloaded, 1u);
}

TEST_F(Vlans, HardwareStrippedTagIsTheOuterTag) {
  config_.finalize();
  Packet* p = rx(*pool_, frame(proto::kBroadcastMac, kA), 2);
  held_.push_back(p);
  p->set_vlan_tci(20);
  ForwardDecision d;
  bridge_.process_burst(config_, &p, 1, 0, &d, stats_);
  EXPECT_EQ(d.vid(), 20);
  EXPECT_EQ(d.ports, ports({1, 3}));
  EXPECT_FALSE(p->has_vlan_tci());
}

// 802.1ad: port 0 is a customer port in service VLAN 100, port 1 a provider trunk.
TEST_F(Vlans, QinqPushAndPop) {
  port(4).vlan = PortVlan::dot1q_tunnel(100);
  VlanSet s;
  s.add(100);
  port(5).vlan = PortVlan::trunk(s, kNoVlan, ETH_P_8021AD);
  port(6).vlan = PortVlan::dot1q_tunnel(100);
  // A customer frame with its own C-tag 5 gets the S-tag on the provider trunk.
  Bytes customer = frame(proto::kBroadcastMac, kA, {{ETH_P_8021Q, 5}});
  ForwardDecision d = send(customer, 4);
  EXPECT_EQ(d.vid(), 100);
  EXPECT_EQ(d.ports, ports({5, 6}));
  EXPECT_EQ(egress(d, 5), frame(proto::kBroadcastMac, kA, {{ETH_P_8021AD, 100}, {ETH_P_8021Q, 5}}));
  EXPECT_EQ(last_egress_->packet_type().l2(), L2Type::kEtherQinq);
  EXPECT_EQ(egress(d, 6), customer);  // customer tags untouched between customer ports
  // Untagged customer traffic too.
  d = send(frame(proto::kBroadcastMac, kA), 4);
  EXPECT_EQ(egress(d, 5), frame(proto::kBroadcastMac, kA, {{ETH_P_8021AD, 100}}));
  // From the provider side the S-tag is removed and the C-tag stays.
  Bytes from_provider = frame(kA, kB, {{ETH_P_8021AD, 100}, {ETH_P_8021Q, 5}});
  d = send(from_provider, 5);
  EXPECT_EQ(d.vid(), 100);
  EXPECT_EQ(d.kind, ForwardKind::kUnicast);  // kA was learned on port 4 in VLAN 100
  EXPECT_EQ(d.ports, ports({4}));
  EXPECT_EQ(egress(d, 4), frame(kA, kB, {{ETH_P_8021Q, 5}}));
  // A C-tagged frame on the provider trunk has no S-tag: no native VLAN, dropped.
  EXPECT_EQ(send(frame(kA, kB, {{ETH_P_8021Q, 100}}), 5).drop, DropReason::kVlanIngress);
}

TEST(VlanTag, PushPopRoundTripKeepsOffsetsAndChecksumStart) {
  auto pool = make_pool(8);
  Bytes f = frame(kB, kA);
  Packet* p = rx(*pool, f, 0);
  p->set_csum_partial(34, 6);
  ASSERT_TRUE(push_vlan_tag(*p, ETH_P_8021Q, 7));
  EXPECT_EQ(p->l3_offset(), 18);
  EXPECT_EQ(p->l4_offset(), 38);
  EXPECT_EQ(p->csum_start(), 38);
  EXPECT_EQ(packet_to_bytes(*p), frame(kB, kA, {{ETH_P_8021Q, 7}}));
  OuterTag t = read_outer_tag(*p);
  EXPECT_EQ(t.tpid, ETH_P_8021Q);
  EXPECT_EQ(t.tci, 7);
  ASSERT_TRUE(pop_vlan_tag(*p));
  EXPECT_EQ(packet_to_bytes(*p), f);
  EXPECT_EQ(p->l3_offset(), 14);
  EXPECT_EQ(p->csum_start(), 34);
  // No headroom: refused, nothing changed.
  p->adj(0);
  while (p->headroom() >= 4)
    p->prepend(4);
  Bytes before = packet_to_bytes(*p);
  EXPECT_FALSE(push_vlan_tag(*p, ETH_P_8021Q, 7));
  EXPECT_EQ(packet_to_bytes(*p), before);
  free_packet(p);
}

// Property: whatever the configuration and the traffic, a frame only leaves on ports
// that carry its VLAN, never on its input port (except ARP/ND replies), and the copy a
// port sends is tagged the way that port expects.
TEST(VlanIsolation, RandomConfigsAndTraffic) {
  std::mt19937 rng(2024);
  auto pool = make_pool(4096);
  for (int round = 0; round < 60; round++) {
    BridgeConfig cfg;
    Bridge::Config bc;
    bc.fdb.max_entries = 1024;
    Bridge bridge(bc);
    BridgeStats stats;
    uint16_t nports = static_cast<uint16_t>(2 + rng() % 14);
    for (uint16_t i = 0; i < nports; i++) {
      PortConfig& pc = cfg.port(i);
      pc.enabled = rng() % 8 != 0;
      switch (rng() % 3) {
        case 0:
          pc.vlan = PortVlan::access(static_cast<uint16_t>(1 + rng() % 4));
          break;
        case 1: {
          VlanSet s;
          for (uint16_t v = 1; v <= 4; v++)
            if (rng() % 2) s.add(v);
          pc.vlan = PortVlan::trunk(s, rng() % 2 ? static_cast<uint16_t>(1 + rng() % 4) : kNoVlan,
                                    rng() % 4 == 0 ? ETH_P_8021AD : ETH_P_8021Q);
          pc.vlan.native_tagged = rng() % 4 == 0;
          break;
        }
        default:
          pc.vlan = PortVlan::dot1q_tunnel(static_cast<uint16_t>(1 + rng() % 4));
      }
      if (rng() % 3 == 0) pc.rx_filter = RxFilter::for_guest(mac(0x525400000000ull + i));
    }
    cfg.finalize();
    for (int n = 0; n < 300; n++) {
      MacAddress dst = rng() % 8 == 0   ? proto::kBroadcastMac
                       : rng() % 8 == 0 ? mac(0x01005e000001)
                                        : mac(0x525400000000ull + rng() % 20);
      MacAddress src = mac(0x525400000000ull + rng() % 20);
      Tags tags;
      uint32_t ntags = rng() % 3;
      for (uint32_t t = 0; t < ntags; t++)
        tags.push_back(
            {rng() % 3 == 0 ? ETH_P_8021AD : ETH_P_8021Q, static_cast<uint16_t>(rng() % 6)});
      uint16_t in = static_cast<uint16_t>(rng() % (nports + 1));
      Packet* p = rx(*pool, frame(dst, src, tags), in);
      ASSERT_NE(p, nullptr);
      ForwardDecision d;
      bridge.process_burst(cfg, &p, 1, 0, &d, stats);
      if (d.kind == ForwardKind::kDrop) {
        EXPECT_TRUE(d.ports.empty());
        EXPECT_NE(d.drop, DropReason::kNone);
        free_packet(p);
        continue;
      }
      const PortConfig* ic = cfg.find_port(in);
      ASSERT_NE(ic, nullptr);
      EXPECT_TRUE(ic->vlan.carries(d.vid()));
      EXPECT_FALSE(d.ports.test(in));
      EXPECT_TRUE(cfg.members(d.vid()).contains(d.ports));
      d.ports.for_each([&](uint16_t out) {
        const PortConfig* oc = cfg.find_port(out);
        ASSERT_NE(oc, nullptr);
        EXPECT_TRUE(oc->vlan.carries(d.vid())) << "port " << out << " vid " << d.vid();
        Packet* c = clone_packet(*pool, *p);
        ASSERT_NE(c, nullptr);
        ASSERT_TRUE(Bridge::prepare_egress(cfg, *c, d, out, stats));
        OuterTag t = read_outer_tag(*c);
        if (oc->vlan.egress_tagged(d.vid())) {
          EXPECT_EQ(t.tpid, oc->vlan.tpid);
          EXPECT_EQ(t.tci & 0xfff, d.vid());
        } else {
          // Untagged: the frame is what the bridge holds inside (no tag of the VLAN).
          EXPECT_EQ(packet_to_bytes(*c), packet_to_bytes(*p));
        }
        free_packet(c);
      });
      free_packet(p);
    }
  }
  EXPECT_EQ(pool->stats().in_use, 0u);
}

}  // namespace
}  // namespace ferry::sw::test
