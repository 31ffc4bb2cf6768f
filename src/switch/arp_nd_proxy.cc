#include "switch/arp_nd_proxy.h"

#include <cstring>

#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>

#include "csum/ip_checksum.h"
#include "csum/raw_sum.h"
#include "proto/arp.h"
#include "proto/icmpv6.h"
#include "proto/ipv6.h"
#include "switch/header_access.h"

namespace ferry::sw {

using proto::MacAddress;

namespace {

constexpr uint32_t kNaLen = sizeof(proto::NdNeighborAdvert) + 8;  // + target lladdr option

bool is_unspecified(const proto::Ipv6Address& a) {
  for (uint8_t b : a.bytes)
    if (b != 0) return false;
  return true;
}

MacAddress eth_src(const Packet& p) {
  MacAddress m;
  std::memcpy(m.bytes, p.data() + ETH_ALEN, ETH_ALEN);
  return m;
}

ProxyResult proxy_arp(Packet& p, uint16_t vid, const NeighborTable& table) {
  uint32_t l3 = p.l3_offset();
  if (p.is_chained() || l3 + sizeof(proto::ArpEthIpv4) > p.data_len()) {
    return ProxyResult::kNotApplicable;
  }
  auto* arp = p.data_at<proto::ArpEthIpv4>(l3);
  if (!arp->header.is_ether_ipv4() || arp->header.op.value() != ARPOP_REQUEST) {
    return ProxyResult::kNotApplicable;
  }
  uint32_t sip = arp->sender_ip.value();
  uint32_t tip = arp->target_ip.value();
  if (sip == 0 || sip == tip) return ProxyResult::kNotApplicable;  // probe, gratuitous
  MacAddress bound;
  if (!table.lookup(NeighborKey::ipv4(tip, vid), &bound)) return ProxyResult::kUnknown;
  if (bound == arp->sender_mac) return ProxyResult::kNotApplicable;  // asking for itself

  MacAddress asker_mac = arp->sender_mac;
  uint8_t* eth = p.data();
  std::memcpy(eth, eth + ETH_ALEN, ETH_ALEN);  // to the frame's source
  std::memcpy(eth + ETH_ALEN, bound.bytes, ETH_ALEN);
  arp->header.op = Be16::from_host(ARPOP_REPLY);
  arp->target_mac = asker_mac;
  arp->target_ip = Be32::from_host(sip);
  arp->sender_mac = bound;
  arp->sender_ip = Be32::from_host(tip);
  p.set_data_len(l3 + sizeof(proto::ArpEthIpv4));
  p.clear_gso();
  p.set_csum_none();
  return ProxyResult::kReplied;
}

ProxyResult proxy_nd(Packet& p, uint16_t vid, const NeighborTable& table) {
  PacketType t = p.packet_type();
  if (t.l3() != L3Type::kIpv6 || t.l4() != L4Type::kIcmpv6 || p.is_chained()) {
    return ProxyResult::kNotApplicable;
  }
  uint32_t l3 = p.l3_offset();
  uint32_t l4 = p.l4_offset();
  if (l4 != l3 + proto::kIpv6HeaderLen || l4 + sizeof(proto::NdNeighborSolicit) > p.data_len()) {
    return ProxyResult::kNotApplicable;
  }
  auto* ip = p.data_at<proto::Ipv6Header>(l3);
  const auto* ns = p.data_at<proto::NdNeighborSolicit>(l4);
  if (ns->header.type != ND_NEIGHBOR_SOLICIT || ns->header.code != 0 || ip->hop_limit != 255) {
    return ProxyResult::kNotApplicable;
  }
  if (is_unspecified(ip->src)) return ProxyResult::kNotApplicable;  // DAD
  proto::Ipv6Address target = ns->target;
  MacAddress bound;
  if (!table.lookup(NeighborKey::ipv6(target, vid), &bound)) return ProxyResult::kUnknown;
  if (bound == eth_src(p)) return ProxyResult::kNotApplicable;
  uint32_t need = l4 + kNaLen;
  if (need > p.data_len() && need - p.data_len() > p.tailroom()) return ProxyResult::kNotApplicable;

  uint8_t* eth = p.data();
  std::memcpy(eth, eth + ETH_ALEN, ETH_ALEN);
  std::memcpy(eth + ETH_ALEN, bound.bytes, ETH_ALEN);
  proto::Ipv6Address asker = ip->src;
  p.set_data_len(need);
  ip = p.data_at<proto::Ipv6Header>(l3);
  ip->vtc_flow = Be32::from_host(0x60000000u);
  ip->payload_length = Be16::from_host(static_cast<uint16_t>(kNaLen));
  ip->next_header = IPPROTO_ICMPV6;
  ip->hop_limit = 255;
  ip->src = target;
  ip->dst = asker;
  auto* na = p.data_at<proto::NdNeighborAdvert>(l4);
  na->header.type = ND_NEIGHBOR_ADVERT;
  na->header.code = 0;
  na->header.checksum = Be16();
  na->flags_reserved = Be32::from_host(0x60000000u);  // Solicited | Override
  na->target = target;
  uint8_t* opt = p.data() + l4 + sizeof(proto::NdNeighborAdvert);
  opt[0] = ND_OPT_TARGET_LINKADDR;
  opt[1] = 1;
  std::memcpy(opt + 2, bound.bytes, ETH_ALEN);
  uint32_t sum = csum::pseudo_sum_ipv6(ip->src.bytes, ip->dst.bytes, IPPROTO_ICMPV6, kNaLen);
  sum = csum::raw_sum(na, kNaLen, sum);
  uint16_t check = csum::finish(sum);
  na->header.checksum = Be16::from_raw(check);  // the sum is in network order already
  p.clear_gso();
  p.set_csum_none();
  return ProxyResult::kReplied;
}

}  // namespace

ProxyResult arp_nd_proxy(Packet& packet, uint16_t vid, const NeighborTable& table, bool arp,
                         bool nd) {
  if (packet.l3_offset() == kNoOffset || packet.data_len() < ETH_HLEN) {
    return ProxyResult::kNotApplicable;
  }
  if (!(packet.data()[0] & 1)) return ProxyResult::kNotApplicable;  // unicast request
  L2Type l2 = packet.packet_type().l2();
  if (arp && l2 == L2Type::kEtherArp) return proxy_arp(packet, vid, table);
  if (nd && packet.packet_type().is_ipv6()) return proxy_nd(packet, vid, table);
  return ProxyResult::kNotApplicable;
}

bool learn_neighbor(const Packet& p, uint16_t vid, NeighborTable& table, uint64_t now_ns) {
  uint8_t scratch[64];
  uint16_t l3 = p.l3_offset();
  if (l3 == kNoOffset) return false;
  PacketType t = p.packet_type();
  if (t.l2() == L2Type::kEtherArp) {
    const uint8_t* h = header_at(p, l3, sizeof(proto::ArpEthIpv4), scratch);
    if (h == nullptr) return false;
    const auto* arp = reinterpret_cast<const proto::ArpEthIpv4*>(h);
    if (!arp->header.is_ether_ipv4()) return false;
    uint32_t sip = arp->sender_ip.value();
    if (sip == 0) return false;
    return table.learn(NeighborKey::ipv4(sip, vid), arp->sender_mac, now_ns);
  }
  if (t.is_ipv6() && t.l4() == L4Type::kIcmpv6 && p.l4_offset() != kNoOffset) {
    const uint8_t* h = header_at(p, p.l4_offset(), sizeof(proto::NdNeighborAdvert) + 8, scratch);
    if (h == nullptr) {
      h = header_at(p, p.l4_offset(), sizeof(proto::NdNeighborAdvert), scratch);
      if (h == nullptr) return false;
      if (h[0] != ND_NEIGHBOR_ADVERT) return false;
      return table.learn(
          NeighborKey::ipv6(reinterpret_cast<const proto::NdNeighborAdvert*>(h)->target, vid),
          eth_src(p), now_ns);
    }
    if (h[0] != ND_NEIGHBOR_ADVERT || h[1] != 0) return false;
    const auto* na = reinterpret_cast<const proto::NdNeighborAdvert*>(h);
    MacAddress mac = eth_src(p);
    const uint8_t* opt = h + sizeof(proto::NdNeighborAdvert);
    if (opt[0] == ND_OPT_TARGET_LINKADDR && opt[1] == 1) std::memcpy(mac.bytes, opt + 2, ETH_ALEN);
    return table.learn(NeighborKey::ipv6(na->target, vid), mac, now_ns);
  }
  return false;
}

}  // namespace ferry::sw
