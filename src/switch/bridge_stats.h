#pragma once

// Counters of the bridge. Each worker keeps its own BridgeStats (plain integers, no
// atomics) and passes it to Bridge::process_burst(); the runtime merges them to report.

#include <array>
#include <cstdint>

#include "switch/fdb.h"
#include "switch/port_set.h"

namespace ferry::sw {

// Why the bridge did not forward a frame. Every drop has one.
enum class DropReason : uint8_t {
  kNone = 0,
  kRunt,                    // shorter than an Ethernet header
  kBadInPort,               // in_port() unknown or disabled
  kBadSrcMac,               // multicast or zero source MAC
  kVlanIngress,             // tagged on an access port, VID not allowed, untagged without native
  kVlanEgress,              // the FDB names a port outside the frame's VLAN
  kSpoofMac,                // source MAC not in the port's list
  kSpoofIpv4,               // IPv4 source not in the port's list
  kSpoofIpv6,               // IPv6 source not in the port's list
  kSpoofArp,                // ARP sender MAC/IP not the port's
  kSpoofNd,                 // neighbour advertisement for an address not the port's
  kStaticConflict,          // source MAC is a static entry of another port
  kL3UnicastInL2Multicast,  // IP unicast inside an L2 broadcast/multicast frame (per port)
  kSamePort,                // the destination is behind the port it came from
  kRxFilter,                // the destination port's receive filter refuses it
  kNoReceiver,              // a flood with no port that wants it
  kCount,
};
const char* to_string(DropReason r);

struct BridgeStats {
  uint64_t packets = 0;            // frames examined
  uint64_t forwarded_unicast = 0;  // to the one port the FDB names
  uint64_t flooded = 0;            // frames flooded (unknown unicast, broadcast, multicast)
  uint64_t flood_copies = 0;       // output ports of flooded frames
  uint64_t unknown_unicast = 0;    // floods of unicast the FDB did not know
  uint64_t broadcast = 0;
  uint64_t multicast = 0;
  uint64_t fdb_learned = 0;
  uint64_t fdb_moved = 0;
  uint64_t fdb_static_conflict = 0;
  uint64_t fdb_port_limit = 0;
  uint64_t fdb_table_full = 0;
  uint64_t fdb_busy = 0;  // learning deferred: another writer held the table
  uint64_t fdb_aged = 0;
  uint64_t neigh_learned = 0;
  uint64_t neigh_aged = 0;
  uint64_t arp_suppressed = 0;      // ARP requests answered by the bridge
  uint64_t nd_suppressed = 0;       // neighbour solicitations answered by the bridge
  uint64_t arp_nd_unknown = 0;      // requests for addresses the bridge does not know (flooded)
  uint64_t vlan_pushed = 0;         // tags written into frames on egress
  uint64_t vlan_popped = 0;         // tags removed on ingress
  uint64_t vlan_offloaded = 0;      // tags handed to the port's VLAN insert offload
  uint64_t egress_no_headroom = 0;  // prepare_egress() could not push a tag
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> drops{};
  // By output port: frames (and flood copies) the port's receive filter refused.
  std::array<uint64_t, kMaxPorts> rx_filtered{};

  void drop(DropReason r) { drops[static_cast<size_t>(r)]++; }
  uint64_t dropped(DropReason r) const { return drops[static_cast<size_t>(r)]; }
  uint64_t spoof_drops() const {
    return dropped(DropReason::kSpoofMac) + dropped(DropReason::kSpoofIpv4) +
           dropped(DropReason::kSpoofIpv6) + dropped(DropReason::kSpoofArp) +
           dropped(DropReason::kSpoofNd);
  }
  uint64_t total_drops() const {
    uint64_t n = 0;
    for (size_t i = 1; i < drops.size(); i++)
      n += drops[i];
    return n;
  }
  void count_learn(LearnResult r);

  // f(const char* name, uint64_t value) for every counter, drops as "drop_<reason>".
  template <typename F>
  void for_each_counter(F&& f) const {
    f("packets", packets);
    f("forwarded_unicast", forwarded_unicast);
    f("flooded", flooded);
    f("flood_copies", flood_copies);
    f("unknown_unicast", unknown_unicast);
    f("broadcast", broadcast);
    f("multicast", multicast);
    f("fdb_learned", fdb_learned);
    f("fdb_moved", fdb_moved);
    f("fdb_static_conflict", fdb_static_conflict);
    f("fdb_port_limit", fdb_port_limit);
    f("fdb_table_full", fdb_table_full);
    f("fdb_busy", fdb_busy);
    f("fdb_aged", fdb_aged);
    f("neigh_learned", neigh_learned);
    f("neigh_aged", neigh_aged);
    f("arp_suppressed", arp_suppressed);
    f("nd_suppressed", nd_suppressed);
    f("arp_nd_unknown", arp_nd_unknown);
    f("vlan_pushed", vlan_pushed);
    f("vlan_popped", vlan_popped);
    f("vlan_offloaded", vlan_offloaded);
    f("egress_no_headroom", egress_no_headroom);
    for (size_t i = 1; i < drops.size(); i++)
      f(drop_counter_name(static_cast<DropReason>(i)), drops[i]);
  }
  static const char* drop_counter_name(DropReason r);
  void merge(const BridgeStats& o);
};

}  // namespace ferry::sw
