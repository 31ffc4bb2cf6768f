#pragma once

// BridgeConfig: an immutable snapshot of a bridge's ports as the control plane set them
// up. The control plane builds a new one (copy, change, finalize()) and publishes it;
// workers pick it up between bursts and pass it to Bridge::process_burst(). Nothing in
// it changes while a worker uses it, so the fast path reads it without synchronisation.
// (The FDB and the neighbour table are not part of the snapshot: they live in Bridge and
// change under traffic.)

#include <array>
#include <cstdint>
#include <vector>

#include "switch/port_set.h"
#include "switch/port_vlan.h"
#include "switch/rx_filter.h"
#include "switch/spoof_guard.h"

namespace ferry::sw {

struct PortConfig {
  bool enabled = false;
  PortVlan vlan;
  // What the port's receiver wants (programmed from a virtio-net guest's control queue).
  RxFilter rx_filter;
  // Anti-spoofing: the addresses the port may send from.
  SpoofGuard spoof;
  bool learning = true;  // learn source MACs of frames from this port
  // Which floods the port takes part in (Linux BR_FLOOD / BR_MCAST_FLOOD / BR_BCAST_FLOOD).
  bool flood_unknown_unicast = true;
  bool flood_multicast = true;
  bool flood_broadcast = true;
  // Answer ARP requests / neighbour solicitations arriving on this port for known
  // addresses (BR_NEIGH_SUPPRESS).
  bool arp_suppress = false;
  bool nd_suppress = false;
  // Learn IP -> MAC bindings from ARP and neighbour advertisements sent by this port.
  bool learn_neighbors = true;
  // Drop IP unicast carried in an L2 broadcast/multicast frame from this port (seed 003;
  // what Linux hosts do with the drop_unicast_in_l2_multicast sysctl, done at the bridge).
  bool drop_l3_unicast_in_l2_multicast = false;
};

class BridgeConfig {
 public:
  // The port's configuration, created (disabled) on first use; ids below kMaxPorts.
  PortConfig& port(uint16_t id);
  const PortConfig* find_port(uint16_t id) const {
    return id < ports_.size() && ports_[id].enabled ? &ports_[id] : nullptr;
  }
  uint16_t port_count() const { return static_cast<uint16_t>(ports_.size()); }

  // Computes the derived sets below; call after the last change, before publishing.
  void finalize();

  // --- Derived (valid after finalize) ----------------------------------------------------
  // Ports that carry a VLAN (in and out), by VID.
  const PortSet& members(uint16_t vid) const { return members_[vid & 0xfff]; }
  const PortSet& enabled() const { return enabled_; }
  const PortSet& flood_unknown_unicast() const { return flood_uu_; }
  const PortSet& flood_multicast() const { return flood_mc_; }
  const PortSet& flood_broadcast() const { return flood_bc_; }
  // Ports whose receive filter takes every frame of that kind (no per-frame check).
  const PortSet& all_unicast() const { return all_uc_; }
  const PortSet& all_multicast() const { return all_mc_; }
  const PortSet& all_broadcast() const { return all_bc_; }

 private:
  std::vector<PortConfig> ports_;
  std::vector<PortSet> members_ = std::vector<PortSet>(4096);  // by VID (128 KiB)
  PortSet enabled_, flood_uu_, flood_mc_, flood_bc_, all_uc_, all_mc_, all_bc_;
};

}  // namespace ferry::sw
