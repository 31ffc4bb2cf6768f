#include "runtime/bridge_switcher.h"

#include <algorithm>

#include <linux/if_ether.h>

namespace ferry::runtime {

namespace {
proto::MacAddress to_mac(uint64_t v) {
  proto::MacAddress m;
  for (int i = 0; i < 6; i++)
    m.bytes[i] = static_cast<uint8_t>(v >> (40 - 8 * i));
  return m;
}
}  // namespace

sw::RxFilter to_bridge_filter(const port::ReceiveFilter& f) {
  auto mac = [](const port::MacAddress& m) {
    proto::MacAddress out;
    std::copy(m.begin(), m.end(), out.bytes);
    return out;
  };
  sw::RxFilter r;
  r.set_promisc(f.promisc);
  r.set_allmulti(f.allmulti);
  r.set_alluni(f.alluni);
  r.set_nomulti(f.nomulti);
  r.set_nouni(f.nouni);
  r.set_nobcast(f.nobcast);
  r.set_mac(mac(f.mac));
  // Longer tables than RxFilter holds count as overflowed (take all of that kind), as
  // RxFilter::set_mac_table decides from the sizes.
  std::vector<proto::MacAddress> uni, multi;
  for (const port::MacAddress& m : f.unicast)
    uni.push_back(mac(m));
  for (const port::MacAddress& m : f.multicast)
    multi.push_back(mac(m));
  r.set_mac_table(uni, multi);
  r.enable_vlan_filter(f.vlan_filter);
  if (f.vlan_filter) {
    for (uint16_t vid = 0; vid < 4096; vid++) {
      if (f.vlans[vid]) r.vlan_add(vid);
    }
  }
  return r;
}

std::shared_ptr<const sw::BridgeConfig> make_bridge_config(const ForwardingConfig& config,
                                                           const RxFilters& rx_filters) {
  auto bc = std::make_shared<sw::BridgeConfig>();
  for (size_t i = 0; i < config.ports.size() && i < sw::kMaxPorts; i++) {
    const PortForwarding& f = config.ports[i];
    sw::PortConfig& p = bc->port(static_cast<uint16_t>(i));
    p.enabled = f.enabled;
    p.learning = f.learning;
    p.flood_unknown_unicast = p.flood_multicast = p.flood_broadcast = f.flood;
    uint16_t tag = f.tag == 0 ? 1 : f.tag;
    switch (f.vlan_mode) {
      case VlanMode::kAccess:
        p.vlan = sw::PortVlan::access(tag);
        break;
      case VlanMode::kDot1qTunnel:
        p.vlan = sw::PortVlan::dot1q_tunnel(tag);
        break;
      case VlanMode::kTrunk: {
        sw::VlanSet allowed;
        if (f.trunks.empty()) {
          allowed = sw::VlanSet::all();
        } else {
          for (uint16_t v : f.trunks)
            allowed.add(v);
        }
        p.vlan = sw::PortVlan::trunk(
            allowed, f.native_vlan < 0 ? sw::kNoVlan : static_cast<uint16_t>(f.native_vlan),
            f.provider ? ETH_P_8021AD : ETH_P_8021Q);
        p.vlan.native_tagged = f.native_tagged;
        break;
      }
    }
    for (uint64_t m : f.allowed_macs)
      p.spoof.macs.push_back(to_mac(m));
    if (!f.allowed_ipv4.empty()) {
      p.spoof.lock_ip = true;
      p.spoof.ipv4 = f.allowed_ipv4;
    }
    p.arp_suppress = p.nd_suppress = f.arp_suppress || config.arp_suppression;
    p.drop_l3_unicast_in_l2_multicast = f.drop_l3_unicast_in_l2_multicast;
    if (i < rx_filters.size() && rx_filters[i]) p.rx_filter = *rx_filters[i];
  }
  bc->finalize();
  return bc;
}

void BridgeSwitcher::configure(const ForwardingConfig& config) {
  config_ = config.bridge ? config.bridge : make_bridge_config(config);
}

void BridgeSwitcher::decide(uint16_t, Packet* const* pkts, uint16_t n, PortMask* out,
                            uint64_t now_ns) {
  bridge_.process_burst(*config_, pkts, n, now_ns, decisions_, stats_);
  for (uint16_t i = 0; i < n; i++) {
    out[i].clear();
    decisions_[i].ports.for_each([&](uint16_t p) { out[i].set(p); });
  }
}

bool BridgeSwitcher::egress(uint16_t out_port, Packet* pkt, uint16_t index) {
  return sw::Bridge::prepare_egress(*config_, *pkt, decisions_[index], out_port, stats_);
}

void BridgeSwitcher::tick(uint64_t now_ns) {
  if (!ager_ || now_ns - last_age_ns_ < 1'000'000'000) return;
  last_age_ns_ = now_ns;
  bridge_.age(now_ns, stats_);
}

const ForwardingStats& BridgeSwitcher::stats() const {
  const sw::BridgeStats& s = stats_;
  summary_.lookups = s.packets;
  summary_.hits = s.forwarded_unicast;
  summary_.floods = s.flooded;
  summary_.learned = s.fdb_learned;
  summary_.moved = s.fdb_moved;
  summary_.aged = s.fdb_aged;
  summary_.spoofed = s.spoof_drops();
  summary_.vlan_filtered =
      s.dropped(sw::DropReason::kVlanIngress) + s.dropped(sw::DropReason::kVlanEgress);
  summary_.disabled = s.dropped(sw::DropReason::kBadInPort);
  summary_.suppressed = s.arp_suppressed + s.nd_suppressed;
  return summary_;
}

}  // namespace ferry::runtime
