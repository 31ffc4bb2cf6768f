#include "steer/flow_key.h"

#include <netinet/in.h>
#include <netinet/ip.h>

#include "base/byteorder.h"
#include "steer/header_walk.h"

namespace ferry::steer {

namespace {

using detail::read_at;

uint8_t proto_of(L4Type t) {
  switch (t) {
    case L4Type::kTcp:
      return IPPROTO_TCP;
    case L4Type::kUdp:
      return IPPROTO_UDP;
    case L4Type::kSctp:
      return IPPROTO_SCTP;
    case L4Type::kIcmp:
      return IPPROTO_ICMP;
    case L4Type::kIcmpv6:
      return IPPROTO_ICMPV6;
    default:
      return 0;
  }
}

}  // namespace

bool flow_key_from_packet(const Packet& p, FlowKey* key) {
  *key = FlowKey{};
  key->in_port = p.in_port();
  const PacketType pt = p.packet_type();
  if (p.has_vlan_tci()) {
    key->vlan_id = p.vlan_tci() & 0xfff;
  } else if (pt.l2() == L2Type::kEtherVlan || pt.l2() == L2Type::kEtherQinq) {
    uint8_t tci[2];
    if (read_at(p, 14, tci, 2)) key->vlan_id = static_cast<uint16_t>(load_be16(tci) & 0xfff);
  }
  const uint16_t l3 = p.l3_offset();
  if (l3 == kNoOffset) return false;
  bool fragment = pt.l4() == L4Type::kFragment;
  if (pt.is_ipv4()) {
    uint8_t h[20];
    if (!read_at(p, l3, h, sizeof h)) return false;
    key->ip_version = 4;
    key->ip_proto = h[9];
    std::memcpy(key->src, h + 12, 4);
    std::memcpy(key->dst, h + 16, 4);
    fragment = fragment || (load_be16(h + 6) & (IP_MF | IP_OFFMASK)) != 0;
  } else if (pt.is_ipv6()) {
    uint8_t h[40];
    if (!read_at(p, l3, h, sizeof h)) return false;
    key->ip_version = 6;
    key->ip_proto = proto_of(pt.l4());
    if (key->ip_proto == 0) key->ip_proto = h[6];
    std::memcpy(key->src, h + 8, 16);
    std::memcpy(key->dst, h + 24, 16);
    if (pt.l3() == L3Type::kIpv6Ext) {
      detail::Ipv6Walk w;
      detail::walk_ipv6_ext(p, l3, &w);
      fragment = fragment || w.fragment;
      if (w.upper != 0) key->ip_proto = w.upper;
    }
  } else {
    return false;
  }
  const L4Type l4 = pt.l4();
  if (!fragment && p.l4_offset() != kNoOffset &&
      (l4 == L4Type::kTcp || l4 == L4Type::kUdp || l4 == L4Type::kSctp)) {
    uint8_t ports[4];
    if (read_at(p, p.l4_offset(), ports, 4)) {
      key->src_port = load_be16(ports);
      key->dst_port = load_be16(ports + 2);
    }
  }
  return true;
}

}  // namespace ferry::steer
