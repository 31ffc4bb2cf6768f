#include "switch/bridge_config.h"

namespace ferry::sw {

const char* to_string(VlanMode m) {
  switch (m) {
    case VlanMode::kAccess:
      return "access";
    case VlanMode::kTrunk:
      return "trunk";
    case VlanMode::kDot1qTunnel:
      return "dot1q-tunnel";
  }
  return "?";
}

PortConfig& BridgeConfig::port(uint16_t id) {
  if (id >= kMaxPorts) id = kMaxPorts - 1;
  if (id >= ports_.size()) ports_.resize(id + 1u);
  return ports_[id];
}

void BridgeConfig::finalize() {
  enabled_ = flood_uu_ = flood_mc_ = flood_bc_ = all_uc_ = all_mc_ = all_bc_ = PortSet();
  for (uint16_t i = 0; i < ports_.size(); i++) {
    const PortConfig& p = ports_[i];
    if (!p.enabled) continue;
    enabled_.set(i);
    if (p.flood_unknown_unicast) flood_uu_.set(i);
    if (p.flood_multicast) flood_mc_.set(i);
    if (p.flood_broadcast) flood_bc_.set(i);
    if (p.rx_filter.accepts_all_unicast()) all_uc_.set(i);
    if (p.rx_filter.accepts_all_multicast()) all_mc_.set(i);
    if (p.rx_filter.accepts_all_broadcast()) all_bc_.set(i);
  }
  members_.assign(4096, PortSet());
  for (uint16_t i = 0; i < ports_.size(); i++) {
    const PortConfig& p = ports_[i];
    if (!p.enabled) continue;
    if (p.vlan.mode != VlanMode::kTrunk) {
      if (p.vlan.tag <= kMaxVid) members_[p.vlan.tag].set(i);
      continue;
    }
    if (p.vlan.native_vid <= kMaxVid) members_[p.vlan.native_vid].set(i);
    p.vlan.allowed.for_each([&](uint16_t vid) {
      if (vid <= kMaxVid) members_[vid].set(i);
    });
  }
}

}  // namespace ferry::sw
