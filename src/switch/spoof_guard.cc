#include "switch/spoof_guard.h"

#include <algorithm>

#include <netinet/icmp6.h>
#include <netinet/in.h>

#include "proto/arp.h"
#include "proto/icmpv6.h"
#include "proto/ipv4.h"
#include "switch/header_access.h"

namespace ferry::sw {

using proto::MacAddress;

bool SpoofGuard::mac_allowed(const MacAddress& m) const {
  return macs.empty() || std::find(macs.begin(), macs.end(), m) != macs.end();
}
bool SpoofGuard::ipv4_allowed(uint32_t ip) const {
  return !lock_ip || std::find(ipv4.begin(), ipv4.end(), ip) != ipv4.end();
}
bool SpoofGuard::ipv6_allowed(const proto::Ipv6Address& ip) const {
  return !lock_ip || std::find(ipv6.begin(), ipv6.end(), ip) != ipv6.end();
}

namespace {

bool is_unspecified(const proto::Ipv6Address& a) {
  for (uint8_t b : a.bytes)
    if (b != 0) return false;
  return true;
}

}  // namespace

SpoofVerdict SpoofGuard::check(const Packet& p) const {
  uint8_t scratch[64];
  MacAddress src;
  std::memcpy(src.bytes, p.data() + ETH_ALEN, ETH_ALEN);
  if (!mac_allowed(src)) return SpoofVerdict::kSrcMac;
  PacketType t = p.packet_type();
  uint16_t l3 = p.l3_offset();
  if (l3 == kNoOffset) return SpoofVerdict::kOk;
  if (t.l2() == L2Type::kEtherArp) {
    const uint8_t* h = header_at(p, l3, sizeof(proto::ArpEthIpv4), scratch);
    if (h == nullptr) return SpoofVerdict::kArp;
    const auto* arp = reinterpret_cast<const proto::ArpEthIpv4*>(h);
    if (!arp->header.is_ether_ipv4()) return SpoofVerdict::kArp;
    if (!mac_allowed(arp->sender_mac)) return SpoofVerdict::kArp;
    uint32_t sip = arp->sender_ip.value();
    if (sip != 0 && !ipv4_allowed(sip)) return SpoofVerdict::kArp;
    return SpoofVerdict::kOk;
  }
  if (!lock_ip && macs.empty()) return SpoofVerdict::kOk;
  if (t.is_ipv4()) {
    const uint8_t* h = header_at(p, l3, sizeof(proto::Ipv4Header), scratch);
    if (h == nullptr) return SpoofVerdict::kIpv4Src;
    const auto* ip = reinterpret_cast<const proto::Ipv4Header*>(h);
    uint32_t s = ip->src.value();
    if (s == 0) {
      // DHCP before an address is held: UDP from port 68 only.
      if (t.l4() != L4Type::kUdp || p.l4_offset() == kNoOffset) return SpoofVerdict::kIpv4Src;
      const uint8_t* u = header_at(p, p.l4_offset(), 4, scratch);
      if (u == nullptr || load_be16(u) != 68) return SpoofVerdict::kIpv4Src;
      return SpoofVerdict::kOk;
    }
    return ipv4_allowed(s) ? SpoofVerdict::kOk : SpoofVerdict::kIpv4Src;
  }
  if (t.is_ipv6()) {
    const uint8_t* h = header_at(p, l3, sizeof(proto::Ipv6Header), scratch);
    if (h == nullptr) return SpoofVerdict::kIpv6Src;
    proto::Ipv6Address s = reinterpret_cast<const proto::Ipv6Header*>(h)->src;
    bool dad = is_unspecified(s);
    if (!dad && !ipv6_allowed(s)) return SpoofVerdict::kIpv6Src;
    if (t.l4() == L4Type::kIcmpv6 && p.l4_offset() != kNoOffset) {
      const uint8_t* ic = header_at(p, p.l4_offset(), sizeof(proto::NdNeighborAdvert), scratch);
      if (ic == nullptr) return dad ? SpoofVerdict::kIpv6Src : SpoofVerdict::kOk;
      uint8_t type = ic[0];
      if (type == ND_NEIGHBOR_ADVERT) {
        const auto* na = reinterpret_cast<const proto::NdNeighborAdvert*>(ic);
        if (!ipv6_allowed(na->target)) return SpoofVerdict::kNd;
      } else if (dad && type != ND_NEIGHBOR_SOLICIT && type != ND_ROUTER_SOLICIT &&
                 type != 143 /* MLDv2 report */) {
        return SpoofVerdict::kIpv6Src;
      }
    } else if (dad) {
      return SpoofVerdict::kIpv6Src;
    }
    return SpoofVerdict::kOk;
  }
  return SpoofVerdict::kOk;
}

}  // namespace ferry::sw
