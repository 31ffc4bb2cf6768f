#pragma once

// The forwarding configuration workers see (an immutable snapshot, snapshot.h), and the
// Switcher: the per-burst forwarding decision.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "packet/packet.h"
#include "runtime/port_mask.h"
#include "switch/bridge_config.h"

namespace ferry::runtime {

enum class VlanMode : uint8_t { kAccess, kTrunk, kDot1qTunnel };

// What the switch knows about one port (published as part of a ForwardingConfig). The
// names follow Open vSwitch (vlan_mode access/trunk/dot1q-tunnel, tag, trunks,
// native VLAN) and Linux bridge port flags (learning, flood, neigh_suppress).
struct PortForwarding {
  std::string name;
  bool enabled = true;
  bool flood = true;     // takes flooded (unknown unicast / broadcast / multicast) frames
  bool learning = true;  // learn source MACs from this port
  VlanMode vlan_mode = VlanMode::kAccess;
  uint16_t tag = 0;                    // access / dot1q-tunnel VLAN (0: the default VLAN 1)
  std::vector<uint16_t> trunks;        // VLANs a trunk carries tagged (empty: all)
  int native_vlan = -1;                // trunk: VLAN of untagged frames (-1: none)
  bool native_tagged = false;          // trunk: send the native VLAN tagged too
  bool provider = false;               // trunk: 802.1ad S-tags (TPID 0x88a8)
  std::vector<uint64_t> allowed_macs;  // anti-spoofing: source MACs allowed (empty: any)
  std::vector<uint32_t> allowed_ipv4;  // anti-spoofing: IPv4 sources (host order; empty: any)
  bool arp_suppress = false;           // answer ARP requests / NS for known addresses
  bool drop_l3_unicast_in_l2_multicast = false;
};

struct StaticFdbEntry {
  uint64_t mac = 0;  // 48-bit MAC in the low bits, network order (aa:bb:.. = 0xaabb..)
  uint16_t vlan = 0;
  uint16_t port = 0;
};

struct ForwardingConfig {
  std::vector<PortForwarding> ports;  // indexed by port id
  std::vector<StaticFdbEntry> static_fdb;
  uint64_t ageing_ns = 300ull * 1'000'000'000;
  bool arp_suppression = false;  // ARP/ND suppression on every port
  uint64_t generation = 0;
  // The bridge's own snapshot, derived from the above by Datapath::publish().
  std::shared_ptr<const sw::BridgeConfig> bridge;
};

// Forwarding counters (bridge events), per worker.
struct ForwardingStats {
  uint64_t lookups = 0;
  uint64_t hits = 0;
  uint64_t floods = 0;
  uint64_t learned = 0;
  uint64_t moved = 0;  // a MAC seen on another port than the FDB said
  uint64_t aged = 0;
  uint64_t spoofed = 0;  // dropped by anti-spoofing
  uint64_t vlan_filtered = 0;
  uint64_t disabled = 0;    // from or to a disabled port
  uint64_t suppressed = 0;  // ARP/ND requests answered by the bridge
};

// Decides where each packet of a burst goes. One call per burst (no virtual call per
// packet). Implementations own their FDB; one instance per worker.
class Switcher {
 public:
  virtual ~Switcher() = default;
  // A new configuration snapshot (between bursts).
  virtual void configure(const ForwardingConfig& config) = 0;
  // pkts[0..n) arrived on in_port (parsed); out[i] receives the ports pkts[i] goes to
  // (empty: dropped, counted in stats()). Never includes in_port.
  virtual void decide(uint16_t in_port, Packet* const* pkts, uint16_t n, PortMask* out,
                      uint64_t now_ns) = 0;
  // Per-output edits (VLAN tag push/pop for access/trunk ports) before transmission on
  // out_port; returns false if the packet must not leave there (it is then freed).
  // `index` is the packet's position in the burst of the last decide().
  virtual bool egress(uint16_t out_port, Packet* pkt, uint16_t index) = 0;
  // Periodic work (ageing) between bursts.
  virtual void tick(uint64_t now_ns) = 0;
  virtual const ForwardingStats& stats() const = 0;
  virtual uint32_t fdb_size() const = 0;
  // Frames for `port` its receive filter refused (this switcher's share; 0: no filters).
  virtual uint64_t rx_filtered(uint16_t /*port*/) const { return 0; }
};

}  // namespace ferry::runtime
