#pragma once

// The forwarding configuration workers see (an immutable snapshot, snapshot.h), and the
// Switcher: the per-burst forwarding decision.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "packet/packet.h"
#include "runtime/port_mask.h"

namespace ferry::runtime {

enum class VlanMode : uint8_t { kAccess, kTrunk };

// What the switch knows about one port (published as part of a ForwardingConfig).
struct PortForwarding {
  std::string name;
  bool enabled = true;
  bool flood = true;     // takes flooded (unknown unicast / broadcast / multicast) frames
  bool learning = true;  // learn source MACs from this port
  VlanMode vlan_mode = VlanMode::kAccess;
  uint16_t tag = 0;                    // access VLAN (0: untagged bridge)
  std::vector<uint16_t> trunks;        // allowed VLANs on a trunk (empty: all)
  std::vector<uint64_t> allowed_macs;  // anti-spoofing: source MACs allowed (empty: any)
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
  bool arp_suppression = false;
  uint64_t generation = 0;
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
  uint64_t disabled = 0;  // from or to a disabled port
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
  virtual bool egress(uint16_t out_port, Packet* pkt) = 0;
  // Periodic work (ageing) between bursts.
  virtual void tick(uint64_t now_ns) = 0;
  virtual const ForwardingStats& stats() const = 0;
  virtual uint32_t fdb_size() const = 0;
};

}  // namespace ferry::runtime
