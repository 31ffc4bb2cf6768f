#include "switch/bridge_stats.h"

#include <iterator>

namespace ferry::sw {

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::kNone:
      return "none";
    case DropReason::kRunt:
      return "runt";
    case DropReason::kBadInPort:
      return "bad_in_port";
    case DropReason::kBadSrcMac:
      return "bad_src_mac";
    case DropReason::kVlanIngress:
      return "vlan_ingress";
    case DropReason::kVlanEgress:
      return "vlan_egress";
    case DropReason::kSpoofMac:
      return "spoof_mac";
    case DropReason::kSpoofIpv4:
      return "spoof_ipv4";
    case DropReason::kSpoofIpv6:
      return "spoof_ipv6";
    case DropReason::kSpoofArp:
      return "spoof_arp";
    case DropReason::kSpoofNd:
      return "spoof_nd";
    case DropReason::kStaticConflict:
      return "static_conflict";
    case DropReason::kL3UnicastInL2Multicast:
      return "l3_unicast_in_l2_multicast";
    case DropReason::kSamePort:
      return "same_port";
    case DropReason::kRxFilter:
      return "rx_filter";
    case DropReason::kNoReceiver:
      return "no_receiver";
    case DropReason::kCount:
      break;
  }
  return "?";
}

const char* BridgeStats::drop_counter_name(DropReason r) {
  static constexpr const char* kNames[] = {
      "drop_none",
      "drop_runt",
      "drop_bad_in_port",
      "drop_bad_src_mac",
      "drop_vlan_ingress",
      "drop_vlan_egress",
      "drop_spoof_mac",
      "drop_spoof_ipv4",
      "drop_spoof_ipv6",
      "drop_spoof_arp",
      "drop_spoof_nd",
      "drop_static_conflict",
      "drop_l3_unicast_in_l2_multicast",
      "drop_same_port",
      "drop_rx_filter",
      "drop_no_receiver",
  };
  static_assert(std::size(kNames) == static_cast<size_t>(DropReason::kCount));
  size_t i = static_cast<size_t>(r);
  return i < std::size(kNames) ? kNames[i] : "drop_unknown";
}

void BridgeStats::count_learn(LearnResult r) {
  switch (r) {
    case LearnResult::kLearned:
      fdb_learned++;
      break;
    case LearnResult::kMoved:
      fdb_moved++;
      break;
    case LearnResult::kStaticConflict:
      fdb_static_conflict++;
      break;
    case LearnResult::kPortLimit:
      fdb_port_limit++;
      break;
    case LearnResult::kTableFull:
      fdb_table_full++;
      break;
    case LearnResult::kBusy:
      fdb_busy++;
      break;
    case LearnResult::kRefreshed:
    case LearnResult::kInvalid:
      break;
  }
}

void BridgeStats::merge(const BridgeStats& o) {
  packets += o.packets;
  forwarded_unicast += o.forwarded_unicast;
  flooded += o.flooded;
  flood_copies += o.flood_copies;
  unknown_unicast += o.unknown_unicast;
  broadcast += o.broadcast;
  multicast += o.multicast;
  fdb_learned += o.fdb_learned;
  fdb_moved += o.fdb_moved;
  fdb_static_conflict += o.fdb_static_conflict;
  fdb_port_limit += o.fdb_port_limit;
  fdb_table_full += o.fdb_table_full;
  fdb_busy += o.fdb_busy;
  fdb_aged += o.fdb_aged;
  neigh_learned += o.neigh_learned;
  neigh_aged += o.neigh_aged;
  arp_suppressed += o.arp_suppressed;
  nd_suppressed += o.nd_suppressed;
  arp_nd_unknown += o.arp_nd_unknown;
  vlan_pushed += o.vlan_pushed;
  vlan_popped += o.vlan_popped;
  vlan_offloaded += o.vlan_offloaded;
  egress_no_headroom += o.egress_no_headroom;
  for (size_t i = 0; i < drops.size(); i++)
    drops[i] += o.drops[i];
  for (size_t i = 0; i < rx_filtered.size(); i++)
    rx_filtered[i] += o.rx_filtered[i];
}

}  // namespace ferry::sw
