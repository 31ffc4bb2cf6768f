#pragma once

// LearningSwitch: the runtime's built-in L2 forwarding (a Switcher): an FDB of
// (MAC, VLAN) -> port with learning, move detection, ageing and static entries; flooding
// of unknown unicast, broadcast and multicast to the ports that take floods; VLAN
// isolation (an access port only reaches ports of its VLAN; a trunk port carries the
// VLANs it allows, its frames keep their tags); anti-spoofing (a port locked to a list of
// source MACs). One instance per worker, so the FDB needs no lock.

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "runtime/forwarding.h"

namespace ferry::runtime {

class LearningSwitch final : public Switcher {
 public:
  void configure(const ForwardingConfig& config) override;
  void decide(uint16_t in_port, Packet* const* pkts, uint16_t n, PortMask* out,
              uint64_t now_ns) override;
  bool egress(uint16_t, Packet*) override { return true; }
  void tick(uint64_t now_ns) override;
  const ForwardingStats& stats() const override { return stats_; }
  uint32_t fdb_size() const override { return static_cast<uint32_t>(fdb_.size()); }

  // The port a (MAC, VLAN) was learned on, or kNoPort.
  uint16_t lookup(uint64_t mac, uint16_t vlan) const;

 private:
  struct Entry {
    uint16_t port;
    bool is_static;
    uint64_t seen_ns;
  };
  static uint64_t key(uint64_t mac, uint16_t vlan) { return (uint64_t{vlan} << 48) | mac; }
  uint16_t ingress_vlan(const PortForwarding& p, const Packet& pkt, bool* ok) const;
  bool port_in_vlan(uint16_t port, uint16_t vlan) const;

  ForwardingConfig config_;
  std::unordered_map<uint64_t, Entry> fdb_;
  PortMask flood_[2];  // [0] every enabled flood port, [1] scratch
  uint64_t last_age_ns_ = 0;
  ForwardingStats stats_;
};

}  // namespace ferry::runtime
