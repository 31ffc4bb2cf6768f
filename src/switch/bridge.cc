#include "switch/bridge.h"

#include <cstring>

#include "proto/ipv4.h"
#include "proto/ipv6.h"
#include "proto/vlan.h"
#include "switch/arp_nd_proxy.h"
#include "switch/header_access.h"
#include "switch/vlan_tag.h"

namespace ferry::sw {

using proto::MacAddress;

namespace {

MacAddress mac_at(const uint8_t* p) {
  MacAddress m;
  std::memcpy(m.bytes, p, ETH_ALEN);
  return m;
}

DropReason spoof_reason(SpoofVerdict v) {
  switch (v) {
    case SpoofVerdict::kOk:
      return DropReason::kNone;
    case SpoofVerdict::kSrcMac:
      return DropReason::kSpoofMac;
    case SpoofVerdict::kIpv4Src:
      return DropReason::kSpoofIpv4;
    case SpoofVerdict::kIpv6Src:
      return DropReason::kSpoofIpv6;
    case SpoofVerdict::kArp:
      return DropReason::kSpoofArp;
    case SpoofVerdict::kNd:
      return DropReason::kSpoofNd;
  }
  return DropReason::kSpoofMac;
}

// Finds the frame's VLAN on ingress and removes the tag that carried it. Returns the
// TCI (VID + PCP) inside the bridge, or kNoVlan to drop.
uint16_t vlan_ingress(const PortVlan& v, Packet& p, BridgeStats& stats) {
  bool hw = p.has_vlan_tci();
  uint16_t tpid = 0;
  uint16_t tci = 0;
  if (hw) {
    tpid = ETH_P_8021Q;
    tci = p.vlan_tci();
  } else {
    OuterTag t = read_outer_tag(p);
    if (proto::is_vlan_tpid(t.tpid)) {
      tpid = t.tpid;
      tci = t.tci;
    }
  }
  auto take_tag = [&]() -> bool {
    if (hw) {
      p.clear_vlan_tci();
      return true;
    }
    if (!pop_vlan_tag(p)) return false;
    stats.vlan_popped++;
    return true;
  };
  uint16_t pcp_bits = tci & 0xf000;  // PCP and DEI travel with the frame
  switch (v.mode) {
    case VlanMode::kAccess:
      if (tpid != 0) {
        // Only priority tags (802.1Q, VID 0) are accepted on an access port.
        if (tpid != ETH_P_8021Q || (tci & 0xfff) != 0) return kNoVlan;
        if (!take_tag()) return kNoVlan;
        return static_cast<uint16_t>(pcp_bits | v.tag);
      }
      return v.tag;
    case VlanMode::kTrunk:
      if (tpid != 0 && tpid == v.tpid) {
        uint16_t vid = tci & 0xfff;
        if (vid == 0) vid = v.native_vid;  // priority tagged: the native VLAN
        if (vid == kNoVlan || !v.carries(vid)) return kNoVlan;
        if (!take_tag()) return kNoVlan;
        return static_cast<uint16_t>(pcp_bits | vid);
      }
      // Untagged, or tagged with another TPID (a customer tag on a provider trunk).
      if (v.native_vid == kNoVlan) return kNoVlan;
      if (hw && !push_vlan_tag(p, tpid, tci)) return kNoVlan;
      if (hw) p.clear_vlan_tci();
      return v.native_vid;
    case VlanMode::kDot1qTunnel:
      // Customer tags are payload: a tag stripped by the port goes back into the frame.
      if (hw) {
        if (!push_vlan_tag(p, tpid, tci)) return kNoVlan;
        p.clear_vlan_tci();
      }
      return static_cast<uint16_t>(pcp_bits | v.tag);
  }
  return kNoVlan;
}

// IP unicast inside an Ethernet broadcast/multicast frame?
bool l3_unicast(const Packet& p) {
  uint8_t scratch[40];
  PacketType t = p.packet_type();
  if (p.l3_offset() == kNoOffset) return false;
  if (t.is_ipv4()) {
    const uint8_t* h = header_at(p, p.l3_offset(), sizeof(proto::Ipv4Header), scratch);
    if (h == nullptr) return false;
    uint32_t dst = reinterpret_cast<const proto::Ipv4Header*>(h)->dst.value();
    return (dst >> 28) != 0xe && dst != 0xffffffffu;
  }
  if (t.is_ipv6()) {
    const uint8_t* h = header_at(p, p.l3_offset(), sizeof(proto::Ipv6Header), scratch);
    if (h == nullptr) return false;
    return reinterpret_cast<const proto::Ipv6Header*>(h)->dst.bytes[0] != 0xff;
  }
  return false;
}

}  // namespace

Bridge::Bridge(const Config& config)
    : fdb_(config.fdb),
      neighbors_(config.neighbor_entries, config.fdb.ageing_ns, config.fdb.hash_seed) {}

PortSet Bridge::flood_set(const BridgeConfig& config, const MacAddress& dst, uint16_t vid,
                          uint16_t in_port, const PortSet& flood_class, const PortSet& take_all,
                          BridgeStats& stats) {
  PortSet cand = config.members(vid) & flood_class;
  cand.reset(in_port);
  PortSet out = cand & take_all;
  cand.subtract(take_all);
  cand.for_each([&](uint16_t port) {
    const PortConfig* pc = config.find_port(port);
    if (pc == nullptr) return;
    if (pc->rx_filter.accepts(dst, pc->vlan.egress_tagged(vid), vid)) {
      out.set(port);
    } else {
      stats.rx_filtered[port]++;
    }
  });
  return out;
}

void Bridge::decide(const BridgeConfig& config, Packet& p, uint64_t now_ns, ForwardDecision& d,
                    BridgeStats& stats) {
  d.ports.clear();
  d.kind = ForwardKind::kDrop;
  d.tci = 0;
  auto drop = [&](DropReason r) {
    d.drop = r;
    stats.drop(r);
  };
  if (FERRY_UNLIKELY(p.data_len() < ETH_HLEN)) return drop(DropReason::kRunt);
  uint16_t in = p.in_port();
  const PortConfig* pc = config.find_port(in);
  if (FERRY_UNLIKELY(pc == nullptr)) return drop(DropReason::kBadInPort);
  MacAddress src = mac_at(p.data() + ETH_ALEN);
  if (FERRY_UNLIKELY(src.is_multicast() || src.is_zero())) return drop(DropReason::kBadSrcMac);

  uint16_t tci = vlan_ingress(pc->vlan, p, stats);
  if (tci == kNoVlan) return drop(DropReason::kVlanIngress);
  if (FERRY_UNLIKELY(p.data_len() < ETH_HLEN)) return drop(DropReason::kRunt);
  d.tci = tci;
  uint16_t vid = tci & 0xfff;

  if (pc->spoof.enabled()) {
    SpoofVerdict v = pc->spoof.check(p);
    if (v != SpoofVerdict::kOk) return drop(spoof_reason(v));
  }

  if (pc->learning) {
    LearnResult r = fdb_.learn(src, vid, in, now_ns);
    stats.count_learn(r);
    if (FERRY_UNLIKELY(r == LearnResult::kStaticConflict)) return drop(DropReason::kStaticConflict);
  }
  PacketType type = p.packet_type();
  bool arp = type.l2() == L2Type::kEtherArp;
  bool icmp6 = type.is_ipv6() && type.l4() == L4Type::kIcmpv6;
  if (pc->learn_neighbors && (arp || icmp6)) {
    if (learn_neighbor(p, vid, neighbors_, now_ns)) stats.neigh_learned++;
  }

  MacAddress dst = mac_at(p.data());
  bool group = dst.is_multicast();
  if (group && (arp || icmp6) && (pc->arp_suppress || pc->nd_suppress)) {
    ProxyResult r = arp_nd_proxy(p, vid, neighbors_, pc->arp_suppress, pc->nd_suppress);
    if (r == ProxyResult::kReplied) {
      (arp ? stats.arp_suppressed : stats.nd_suppressed)++;
      d.kind = ForwardKind::kReply;
      d.drop = DropReason::kNone;
      d.ports.set(in);
      return;
    }
    if (r == ProxyResult::kUnknown) stats.arp_nd_unknown++;
  }
  if (group && pc->drop_l3_unicast_in_l2_multicast && l3_unicast(p)) {
    return drop(DropReason::kL3UnicastInL2Multicast);
  }

  if (group) {
    if (dst.is_broadcast()) {
      stats.broadcast++;
      d.ports =
          flood_set(config, dst, vid, in, config.flood_broadcast(), config.all_broadcast(), stats);
    } else {
      stats.multicast++;
      d.ports =
          flood_set(config, dst, vid, in, config.flood_multicast(), config.all_multicast(), stats);
    }
  } else {
    uint16_t out = fdb_.lookup(dst, vid);
    if (out != kNoPort) {
      if (out == in) return drop(DropReason::kSamePort);
      const PortConfig* oc = config.find_port(out);
      if (oc == nullptr || !config.members(vid).test(out)) return drop(DropReason::kVlanEgress);
      if (!oc->rx_filter.promisc() &&
          !oc->rx_filter.accepts(dst, oc->vlan.egress_tagged(vid), vid)) {
        stats.rx_filtered[out]++;
        return drop(DropReason::kRxFilter);
      }
      stats.forwarded_unicast++;
      d.kind = ForwardKind::kUnicast;
      d.drop = DropReason::kNone;
      d.ports.set(out);
      return;
    }
    stats.unknown_unicast++;
    d.ports = flood_set(config, dst, vid, in, config.flood_unknown_unicast(), config.all_unicast(),
                        stats);
  }
  if (d.ports.empty()) return drop(DropReason::kNoReceiver);
  stats.flooded++;
  stats.flood_copies += d.ports.count();
  d.kind = ForwardKind::kFlood;
  d.drop = DropReason::kNone;
}

void Bridge::process_burst(const BridgeConfig& config, Packet* const* pkts, uint32_t n,
                           uint64_t now_ns, ForwardDecision* out, BridgeStats& stats) {
  stats.packets += n;
  for (uint32_t i = 0; i < n; i++)
    decide(config, *pkts[i], now_ns, out[i], stats);
}

bool Bridge::prepare_egress(const BridgeConfig& config, Packet& packet,
                            const ForwardDecision& decision, uint16_t port, BridgeStats& stats) {
  const PortConfig* pc = config.find_port(port);
  if (pc == nullptr) return false;
  packet.clear_vlan_tci();
  if (!pc->vlan.egress_tagged(decision.vid())) return true;
  if (pc->vlan.vlan_insert_offload && pc->vlan.tpid == ETH_P_8021Q) {
    packet.set_vlan_tci(decision.tci);
    stats.vlan_offloaded++;
    return true;
  }
  if (!push_vlan_tag(packet, pc->vlan.tpid, decision.tci)) {
    stats.egress_no_headroom++;
    return false;
  }
  stats.vlan_pushed++;
  return true;
}

void Bridge::age(uint64_t now_ns, BridgeStats& stats) {
  stats.fdb_aged += fdb_.age(now_ns);
  stats.neigh_aged += neighbors_.age(now_ns);
}

}  // namespace ferry::sw
