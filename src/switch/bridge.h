#pragma once

// Bridge: the L2 switch of Ferry. It decides, for a burst of parsed frames, where each
// one goes; the worker then moves the frames (cloning flooded ones) and calls
// prepare_egress() per output port.
//
// Per burst, a worker calls:
//
//   const BridgeConfig& cfg = *snapshot;            // picked up between bursts
//   bridge.process_burst(cfg, pkts, n, now_ns, decisions, stats);
//   for each i: decisions[i].ports is the set of output ports (empty: dropped, with
//     decisions[i].drop saying why; the worker frees the packet). For each output port
//     p, the worker takes the packet (the last port) or a clone (clone_packet()),
//     calls Bridge::prepare_egress(cfg, *copy, decisions[i], p) and queues it on p.
//   every second or so, one thread: bridge.age(now_ns, stats).
//
// What process_burst does per frame, in order:
//  1. sanity: Ethernet header present, in_port() an enabled port, source MAC unicast;
//  2. VLAN ingress by the port's mode (port_vlan.h): the frame's VLAN is found and the tag
//     that carried it removed from the bytes (tag popped, offsets moved); the decision
//     keeps the VLAN and priority (tci);
//  3. anti-spoofing (spoof_guard.h);
//  4. MAC learning into the FDB (a static entry of another port drops the frame);
//     neighbour learning from ARP / neighbour advertisements;
//  5. ARP / ND suppression: a known target is answered in place, the decision sends the
//     reply back to the input port (the one case where the input port is an output);
//  6. optional drop of IP unicast inside L2 multicast;
//  7. forwarding: known unicast to the FDB's port (if in the VLAN and its receive filter
//     takes it); unknown unicast, multicast and broadcast flooded to the VLAN's members
//     that take part in that flood and whose receive filter wants the frame.
// Frames never go back to their input port, and never to a port outside their VLAN.
//
// The frames must have been parsed (proto::parse_packet) and carry in_port(). A tag the
// port stripped in hardware (has_vlan_tci()) counts as the outer tag.

#include <cstdint>

#include "packet/packet.h"
#include "switch/bridge_config.h"
#include "switch/bridge_stats.h"
#include "switch/fdb.h"
#include "switch/neighbor_table.h"
#include "switch/port_set.h"

namespace ferry::sw {

enum class ForwardKind : uint8_t { kDrop, kUnicast, kFlood, kReply };

struct ForwardDecision {
  PortSet ports;     // where the frame goes; empty when dropped
  uint16_t tci = 0;  // the frame's VLAN (VID), priority (PCP) and DEI inside the bridge
  ForwardKind kind = ForwardKind::kDrop;
  DropReason drop = DropReason::kNone;

  uint16_t vid() const { return tci & 0xfff; }
};

class Bridge {
 public:
  struct Config {
    Fdb::Config fdb;
    uint32_t neighbor_entries = 16384;
  };
  explicit Bridge(const Config& config);
  Bridge() : Bridge(Config{}) {}

  // Decides the fate of pkts[0..n) (a burst, usually up to 64). May rewrite frames:
  // VLAN tags popped on ingress, ARP/ND requests turned into replies.
  void process_burst(const BridgeConfig& config, Packet* const* pkts, uint32_t n, uint64_t now_ns,
                     ForwardDecision* out, BridgeStats& stats);

  // Makes one copy of a decided frame right for output port `port`: pushes the VLAN tag
  // the port needs (or hands it to the port's VLAN insert offload through vlan_tci), or
  // leaves the frame untagged. False if a tag could not be pushed (no headroom; counted);
  // the worker then drops the copy.
  static bool prepare_egress(const BridgeConfig& config, Packet& packet,
                             const ForwardDecision& decision, uint16_t port, BridgeStats& stats);

  // Ages the FDB and the neighbour table.
  void age(uint64_t now_ns, BridgeStats& stats);

  Fdb& fdb() { return fdb_; }
  const Fdb& fdb() const { return fdb_; }
  NeighborTable& neighbors() { return neighbors_; }
  const NeighborTable& neighbors() const { return neighbors_; }

 private:
  void decide(const BridgeConfig& config, Packet& p, uint64_t now_ns, ForwardDecision& d,
              BridgeStats& stats);
  static PortSet flood_set(const BridgeConfig& config, const proto::MacAddress& dst, uint16_t vid,
                           uint16_t in_port, const PortSet& flood_class, const PortSet& take_all,
                           BridgeStats& stats);

  Fdb fdb_;
  NeighborTable neighbors_;
};

}  // namespace ferry::sw
