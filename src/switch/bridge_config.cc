#include "switch/bridge_config.h"

#include <map>

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
  // Distinct member sets, shared by the VIDs that have the same members.
  vlan_sets_.assign(1, PortSet());
  std::map<std::array<uint64_t, PortSet::kWords>, uint16_t> seen;
  for (uint32_t vid = 0; vid < 4096; vid++) {
    PortSet s;
    if (vid <= kMaxVid) {
      for (uint16_t i = 0; i < ports_.size(); i++)
        if (ports_[i].enabled && ports_[i].vlan.carries(static_cast<uint16_t>(vid))) s.set(i);
    }
    if (s.empty()) {
      vlan_index_[vid] = 0;
      continue;
    }
    std::array<uint64_t, PortSet::kWords> key{};
    s.for_each([&](uint16_t p) { key[p >> 6] |= uint64_t{1} << (p & 63); });
    auto [it, inserted] = seen.emplace(key, static_cast<uint16_t>(vlan_sets_.size()));
    if (inserted) vlan_sets_.push_back(s);
    vlan_index_[vid] = it->second;
  }
}

}  // namespace ferry::sw
