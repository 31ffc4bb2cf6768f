#include "runtime/learning_switch.h"

#include <algorithm>

namespace ferry::runtime {

namespace {
uint64_t load_mac(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 6; i++)
    v = (v << 8) | p[i];
  return v;
}
}  // namespace

void LearningSwitch::configure(const ForwardingConfig& config) {
  config_ = config;
  flood_[0].clear();
  for (size_t i = 0; i < config_.ports.size() && i < kMaxPorts; i++) {
    if (config_.ports[i].enabled && config_.ports[i].flood) flood_[0].set(static_cast<uint16_t>(i));
  }
  // Static entries replace learned ones; learned entries on ports now disabled go.
  for (auto it = fdb_.begin(); it != fdb_.end();) {
    bool gone = it->second.is_static || it->second.port >= config_.ports.size() ||
                !config_.ports[it->second.port].enabled;
    it = gone ? fdb_.erase(it) : std::next(it);
  }
  for (const StaticFdbEntry& e : config_.static_fdb)
    fdb_[key(e.mac, e.vlan)] = {e.port, true, 0};
}

uint16_t LearningSwitch::lookup(uint64_t mac, uint16_t vlan) const {
  auto it = fdb_.find(key(mac, vlan));
  return it == fdb_.end() ? kNoPort : it->second.port;
}

uint16_t LearningSwitch::ingress_vlan(const PortForwarding& p, const Packet& pkt, bool* ok) const {
  *ok = true;
  if (p.vlan_mode == VlanMode::kAccess) return p.tag;
  uint16_t vid = 0;
  if (pkt.has_vlan_tci()) {
    vid = pkt.vlan_tci() & 0xfff;
  } else if (pkt.data_len() >= 18 && pkt.data()[12] == 0x81 && pkt.data()[13] == 0x00) {
    vid = static_cast<uint16_t>(((pkt.data()[14] << 8) | pkt.data()[15]) & 0xfff);
  }
  if (!p.trunks.empty() && std::find(p.trunks.begin(), p.trunks.end(), vid) == p.trunks.end()) {
    *ok = false;
  }
  return vid;
}

bool LearningSwitch::port_in_vlan(uint16_t port, uint16_t vlan) const {
  const PortForwarding& p = config_.ports[port];
  if (p.vlan_mode == VlanMode::kAccess) return p.tag == vlan;
  return p.trunks.empty() || std::find(p.trunks.begin(), p.trunks.end(), vlan) != p.trunks.end();
}

void LearningSwitch::decide(uint16_t in_port, Packet* const* pkts, uint16_t n, PortMask* out,
                            uint64_t now_ns) {
  const bool known = in_port < config_.ports.size();
  for (uint16_t i = 0; i < n; i++) {
    out[i].clear();
    const Packet& pkt = *pkts[i];
    if (!known || !config_.ports[in_port].enabled) {
      stats_.disabled++;
      continue;
    }
    if (pkt.data_len() < 14) continue;
    const PortForwarding& ip = config_.ports[in_port];
    bool vlan_ok = true;
    uint16_t vlan = ingress_vlan(ip, pkt, &vlan_ok);
    if (!vlan_ok) {
      stats_.vlan_filtered++;
      continue;
    }
    uint64_t dst = load_mac(pkt.data());
    uint64_t src = load_mac(pkt.data() + 6);
    if (!ip.allowed_macs.empty() &&
        std::find(ip.allowed_macs.begin(), ip.allowed_macs.end(), src) == ip.allowed_macs.end()) {
      stats_.spoofed++;
      continue;
    }
    // Learn (never multicast sources).
    if (ip.learning && (src >> 40 & 1) == 0) {
      auto [it, inserted] = fdb_.try_emplace(key(src, vlan), Entry{in_port, false, now_ns});
      if (inserted) {
        stats_.learned++;
      } else if (!it->second.is_static) {
        if (it->second.port != in_port) {
          stats_.moved++;
          it->second.port = in_port;
        }
        it->second.seen_ns = now_ns;
      }
    }
    stats_.lookups++;
    if ((dst >> 40 & 1) == 0) {
      auto it = fdb_.find(key(dst, vlan));
      if (it != fdb_.end()) {
        stats_.hits++;
        uint16_t op = it->second.port;
        if (op != in_port && op < config_.ports.size() && config_.ports[op].enabled) out[i].set(op);
        continue;
      }
    }
    stats_.floods++;
    flood_[0].for_each([&](uint16_t p) {
      if (p != in_port && port_in_vlan(p, vlan)) out[i].set(p);
    });
  }
}

void LearningSwitch::tick(uint64_t now_ns) {
  // Age once a second at most.
  if (now_ns - last_age_ns_ < 1'000'000'000) return;
  last_age_ns_ = now_ns;
  for (auto it = fdb_.begin(); it != fdb_.end();) {
    if (!it->second.is_static && now_ns - it->second.seen_ns > config_.ageing_ns) {
      stats_.aged++;
      it = fdb_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace ferry::runtime
