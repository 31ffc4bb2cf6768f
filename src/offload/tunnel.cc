#include "offload/tunnel.h"

#include <cstring>

#include <linux/if_ether.h>
#include <netinet/in.h>
#include <netinet/ip.h>

#include "base/byteorder.h"
#include "csum/chain_bytes.h"
#include "csum/ip_checksum.h"
#include "csum/offload_state.h"
#include "csum/packet_checksum.h"
#include "csum/raw_sum.h"
#include "packet/buffer_pool.h"
#include "packet/segment_reader.h"
#include "proto/geneve.h"
#include "proto/gre.h"
#include "proto/ipv4.h"
#include "proto/parser.h"
#include "proto/udp.h"
#include "proto/vxlan.h"

namespace ferry::offload {

using csum::CsumError;

const char* to_string(TunnelError error) {
  switch (error) {
    case TunnelError::kOk:
      return "ok";
    case TunnelError::kNotParsed:
      return "not_parsed";
    case TunnelError::kNotEthernet:
      return "not_ethernet";
    case TunnelError::kAlreadyTunnel:
      return "already_tunnel";
    case TunnelError::kNoHeadroom:
      return "no_headroom";
    case TunnelError::kTooLong:
      return "too_long";
    case TunnelError::kNotTunnel:
      return "not_tunnel";
    case TunnelError::kTruncated:
      return "truncated";
    case TunnelError::kRcoBadState:
      return "rco_bad_state";
    case TunnelError::kRcoBadStart:
      return "rco_bad_start";
    case TunnelError::kRcoBadOffset:
      return "rco_bad_offset";
    case TunnelError::kChecksum:
      return "checksum";
    case TunnelError::kInnerParse:
      return "inner_parse";
    case TunnelError::kCount:
      break;
  }
  return "unknown";
}

const char* const TunnelStats::error_names_[static_cast<size_t>(TunnelError::kCount)] = {
    "error_ok",
    "error_not_parsed",
    "error_not_ethernet",
    "error_already_tunnel",
    "error_no_headroom",
    "error_too_long",
    "error_not_tunnel",
    "error_truncated",
    "error_rco_bad_state",
    "error_rco_bad_start",
    "error_rco_bad_offset",
    "error_checksum",
    "error_inner_parse",
};

namespace {

constexpr uint16_t kGsoTunnelBits =
    kGsoUdpTunnel | kGsoUdpTunnelCsum | kGsoGre | kGsoGreCsum | kGsoPartial | kGsoTunnelRemcsum;

uint32_t rotl(uint32_t x, int r) {
  return (x << r) | (x >> (32 - r));
}

// Murmur3's block and finaliser steps: cheap, and every input bit reaches every output bit.
struct FlowHasher {
  uint32_t h = 0x9747b28c;
  void add(uint32_t k) {
    k *= 0xcc9e2d51;
    k = rotl(k, 15);
    k *= 0x1b873593;
    h ^= k;
    h = rotl(h, 13);
    h = h * 5 + 0xe6546b64;
  }
  uint32_t finish() {
    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    h ^= h >> 16;
    return h;
  }
};

// Moves a raw sum of a block that sits `offset` bytes into a summed range into that
// range's word parity (and back: the swap is its own inverse).
uint32_t at_parity(uint32_t sum, uint32_t offset) {
  return (offset & 1) ? csum::swap_parity(sum) : sum;
}

}  // namespace

uint32_t inner_flow_hash(const Packet& pkt) {
  if (pkt.has_rss_hash()) return pkt.rss_hash();
  const PacketType t = pkt.packet_type();
  const bool inner = pkt.inner_l3_offset() != kNoOffset;
  const uint16_t l3 = inner ? pkt.inner_l3_offset() : pkt.l3_offset();
  const uint16_t l4 = inner ? pkt.inner_l4_offset() : pkt.l4_offset();
  const bool v4 = inner ? t.is_inner_ipv4() : t.is_ipv4();
  const bool v6 = inner ? t.is_inner_ipv6() : t.is_ipv6();
  const L4Type l4t = inner ? t.inner_l4() : t.l4();
  FlowHasher h;
  uint8_t addrs[32];
  if (v4 && copy_out(pkt, l3 + 12u, addrs, 8)) {
    for (int i = 0; i < 2; i++)
      h.add(load_unaligned<uint32_t>(addrs + 4 * i));
  } else if (v6 && copy_out(pkt, l3 + 8u, addrs, 32)) {
    for (int i = 0; i < 8; i++)
      h.add(load_unaligned<uint32_t>(addrs + 4 * i));
  }
  h.add(static_cast<uint32_t>(l4t));
  uint8_t ports[4];
  if ((l4t == L4Type::kTcp || l4t == L4Type::kUdp) && l4 != kNoOffset &&
      copy_out(pkt, l4, ports, 4)) {
    h.add(load_unaligned<uint32_t>(ports));
  }
  return h.finish();
}

uint16_t udp_flow_src_port(uint32_t hash, uint16_t min, uint16_t max) {
  if (min >= max) return min;
  hash ^= hash << 16;
  return static_cast<uint16_t>(((uint64_t{hash} * (max - min)) >> 32) + min);
}

CsumError lco_sum(const Packet& pkt, uint32_t from, uint32_t* sum) {
  if (pkt.csum_state() != CsumState::kPartial) return CsumError::kBadState;
  if (CsumError e = csum::check_partial(pkt); e != CsumError::kOk) return e;
  const uint32_t start = pkt.csum_start();
  if (from > start) return CsumError::kBadState;
  uint16_t field;
  if (!copy_out(pkt, start + pkt.csum_offset(), &field, 2)) return CsumError::kCsumFieldBeyondEnd;
  uint32_t head = 0;
  if (!csum::sum_chain(pkt, from, start - from, 0, &head)) return CsumError::kTruncated;
  *sum = csum::add(head, at_parity(static_cast<uint16_t>(~field), start - from));
  return CsumError::kOk;
}

CsumError lco_fill_outer_udp(Packet& pkt) {
  const PacketType t = pkt.packet_type();
  if (t.l4() != L4Type::kUdp || pkt.l4_offset() == kNoOffset || pkt.l3_offset() == kNoOffset) {
    return CsumError::kNoHeader;
  }
  const uint32_t l3 = pkt.l3_offset();
  const uint32_t l4 = pkt.l4_offset();
  const uint32_t len = chain_length(pkt);
  if (l4 + proto::kUdpHeaderLen > len) return CsumError::kTruncated;
  const uint32_t udp_len = len - l4;
  uint8_t ip[40];
  uint32_t ps;
  if (t.is_ipv4()) {
    if (!copy_out(pkt, l3, ip, 20)) return CsumError::kTruncated;
    ps = csum::pseudo_sum_ipv4(ip + 12, ip + 16, IPPROTO_UDP, static_cast<uint16_t>(udp_len));
  } else if (t.is_ipv6()) {
    if (!copy_out(pkt, l3, ip, 40)) return CsumError::kTruncated;
    ps = csum::pseudo_sum_ipv6(ip + 8, ip + 24, IPPROTO_UDP, udp_len);
  } else {
    return CsumError::kNoHeader;
  }
  const uint16_t zero = 0;
  if (!copy_in(pkt, l4 + 6, &zero, 2)) return CsumError::kTruncated;
  uint32_t sum;
  if (CsumError e = lco_sum(pkt, l4, &sum); e != CsumError::kOk) return e;
  uint16_t c = csum::finish(csum::add(ps, sum));
  if (c == 0) c = 0xffff;
  copy_in(pkt, l4 + 6, &c, 2);
  return CsumError::kOk;
}

TunnelError rco_encode(Packet& pkt) {
  if (pkt.packet_type().tunnel() != TunnelType::kVxlan || pkt.csum_state() != CsumState::kPartial ||
      pkt.inner_l2_offset() == kNoOffset || pkt.inner_l2_offset() < proto::kVxlanHeaderLen) {
    return TunnelError::kRcoBadState;
  }
  const uint32_t inner = pkt.inner_l2_offset();
  if (pkt.csum_start() < inner) return TunnelError::kRcoBadStart;
  const uint32_t start = pkt.csum_start() - inner;
  if ((start & 1) || (start >> kVxlanRcoShift) > kVxlanRcoStartMask) {
    return TunnelError::kRcoBadStart;
  }
  const bool udp = pkt.csum_offset() == 6;
  if (!udp && pkt.csum_offset() != 16) return TunnelError::kRcoBadOffset;
  if (csum::check_partial(pkt) != CsumError::kOk) return TunnelError::kRcoBadOffset;
  uint8_t vx[proto::kVxlanHeaderLen];
  const uint32_t at = inner - proto::kVxlanHeaderLen;
  if (!copy_out(pkt, at, vx, sizeof(vx))) return TunnelError::kTruncated;
  store_be32(vx, load_be32(vx) | kVxlanFlagRco);
  vx[7] = static_cast<uint8_t>((start >> kVxlanRcoShift) | (udp ? kVxlanRcoUdp : 0));
  copy_in(pkt, at, vx, sizeof(vx));
  pkt.set_csum_none();
  return TunnelError::kOk;
}

TunnelError rco_decode(Packet& pkt, bool* applied) {
  if (applied != nullptr) *applied = false;
  if (pkt.packet_type().tunnel() != TunnelType::kVxlan) return TunnelError::kOk;
  const uint32_t inner = pkt.inner_l2_offset();
  if (inner == kNoOffset || inner < proto::kVxlanHeaderLen) return TunnelError::kTruncated;
  uint8_t vx[proto::kVxlanHeaderLen];
  if (!copy_out(pkt, inner - proto::kVxlanHeaderLen, vx, sizeof(vx))) {
    return TunnelError::kTruncated;
  }
  if (!(load_be32(vx) & kVxlanFlagRco)) return TunnelError::kOk;
  const uint32_t start = inner + ((vx[7] & kVxlanRcoStartMask) << kVxlanRcoShift);
  const uint32_t offset = (vx[7] & kVxlanRcoUdp) ? 6 : 16;
  const uint32_t len = chain_length(pkt);
  if (start + offset + 2 > len) return TunnelError::kRcoBadOffset;
  uint16_t old_field;
  copy_out(pkt, start + offset, &old_field, 2);

  // The field holds the pseudo-header sum, so the sum of [start, end) as it is now is
  // what the finished checksum is the complement of.
  uint32_t sum;
  const bool complete = pkt.csum_state() == CsumState::kComplete && pkt.csum_start() <= start;
  if (complete) {
    uint32_t prefix;
    if (!csum::sum_chain(pkt, pkt.csum_start(), start - pkt.csum_start(), 0, &prefix)) {
      return TunnelError::kTruncated;
    }
    sum = at_parity(csum::sub(pkt.csum_value(), prefix), start - pkt.csum_start());
  } else if (!csum::sum_chain(pkt, start, len - start, 0, &sum)) {
    return TunnelError::kTruncated;
  }
  uint16_t field = csum::finish(sum);
  if (offset == 6 && field == 0) field = 0xffff;
  copy_in(pkt, start + offset, &field, 2);
  if (complete) {
    // Keep the kComplete sum true to the bytes that changed.
    const uint32_t pos = start + offset - pkt.csum_start();
    uint32_t total = csum::sub(pkt.csum_value(), at_parity(old_field, pos));
    total = csum::add(total, at_parity(field, pos));
    pkt.set_csum_complete(pkt.csum_start(), csum::fold(total));
  }
  if (applied != nullptr) *applied = true;
  return TunnelError::kOk;
}

TunnelError Tunnel::encap(Packet& pkt) {
  if (pkt.l3_offset() == kNoOffset) return count(TunnelError::kNotParsed);
  const PacketType old = pkt.packet_type();
  if (old.l2() == L2Type::kNone) return count(TunnelError::kNotEthernet);
  if (old.tunnel() != TunnelType::kNone || pkt.inner_l2_offset() != kNoOffset) {
    return count(TunnelError::kAlreadyTunnel);
  }
  const TunnelKind kind = config_.kind;
  const bool v6 = config_.ipv6;
  const uint32_t ip_len = v6 ? proto::kIpv6HeaderLen : proto::kIpv4MinHeaderLen;
  uint32_t tun_len;
  if (kind == TunnelKind::kGre) {
    tun_len = 4 + (config_.gre_csum ? 4 : 0) + (config_.gre_key ? 4 : 0);
  } else {
    tun_len = proto::kUdpHeaderLen + 8;  // VXLAN and option-less Geneve are both 8
  }
  const uint32_t eth = proto::kEthernetHeaderLen;
  const uint32_t n = eth + ip_len + tun_len;
  const uint32_t total = chain_length(pkt) + n;
  if (total - eth - (v6 ? ip_len : 0) > proto::kIpv4MaxDatagram)
    return count(TunnelError::kTooLong);
  const uint32_t hash = inner_flow_hash(pkt);

  uint8_t* h = push_front(pkt, static_cast<uint16_t>(n), static_cast<uint16_t>(eth), stats_.align);
  if (h == nullptr) return count(TunnelError::kNoHeadroom);
  std::memset(h, 0, n);

  auto* eh = reinterpret_cast<proto::EthernetHeader*>(h);
  eh->dst = config_.dst_mac;
  eh->src = config_.src_mac;
  eh->ether_type.set(v6 ? ETH_P_IPV6 : ETH_P_IP);
  const uint8_t l4_proto = kind == TunnelKind::kGre ? IPPROTO_GRE : IPPROTO_UDP;
  if (v6) {
    auto* ip = reinterpret_cast<proto::Ipv6Header*>(h + eth);
    const uint32_t label = (hash ^ (hash >> 12)) & 0xfffff;
    ip->vtc_flow.set((6u << 28) | (uint32_t{config_.tos} << 20) | label);
    ip->payload_length.set(static_cast<uint16_t>(total - eth - ip_len));
    ip->next_header = l4_proto;
    ip->hop_limit = config_.ttl;
    ip->src = config_.src_ip6;
    ip->dst = config_.dst_ip6;
  } else {
    auto* ip = reinterpret_cast<proto::Ipv4Header*>(h + eth);
    ip->version_ihl = 0x45;
    ip->tos = config_.tos;
    ip->total_length.set(static_cast<uint16_t>(total - eth));
    ip->id.set(ip_id_++);
    ip->frag_off.set(config_.df ? IP_DF : 0);
    ip->ttl = config_.ttl;
    ip->protocol = l4_proto;
    std::memcpy(&ip->src, config_.src_ip4.data(), 4);
    std::memcpy(&ip->dst, config_.dst_ip4.data(), 4);
    csum::ipv4_header_fill(ip, proto::kIpv4MinHeaderLen);
  }
  uint8_t* t = h + eth + ip_len;
  if (kind == TunnelKind::kGre) {
    auto* gre = reinterpret_cast<proto::GreHeader*>(t);
    gre->flags_version.set(
        static_cast<uint16_t>((config_.gre_csum ? proto::GreHeader::kChecksum : 0) |
                              (config_.gre_key ? proto::GreHeader::kKey : 0)));
    gre->protocol.set(ETH_P_TEB);
    if (config_.gre_key) store_be32(t + gre->key_offset(), config_.vni);
  } else {
    auto* uh = reinterpret_cast<proto::UdpHeader*>(t);
    const uint16_t default_port =
        kind == TunnelKind::kVxlan ? proto::kVxlanPort : proto::kGenevePort;
    uh->src_port.set(udp_flow_src_port(hash, config_.src_port_min, config_.src_port_max));
    uh->dst_port.set(config_.dst_port != 0 ? config_.dst_port : default_port);
    uh->length.set(static_cast<uint16_t>(total - eth - ip_len));
    uint8_t* th = t + proto::kUdpHeaderLen;
    if (kind == TunnelKind::kVxlan) {
      store_be32(th, proto::VxlanHeader::kFlagVni);
      store_be32(th + 4, config_.vni << 8);
    } else {
      auto* g = reinterpret_cast<proto::GeneveHeader*>(th);
      g->protocol.set(ETH_P_TEB);
      g->vni[0] = static_cast<uint8_t>(config_.vni >> 16);
      g->vni[1] = static_cast<uint8_t>(config_.vni >> 8);
      g->vni[2] = static_cast<uint8_t>(config_.vni);
    }
  }

  // Offsets: push_front() moved the old ones by n; they now describe the inner frame.
  PacketType nt;
  nt.set_l2(L2Type::kEther);
  nt.set_l3(v6 ? L3Type::kIpv6 : L3Type::kIpv4);
  nt.set_l4(kind == TunnelKind::kGre ? L4Type::kOther : L4Type::kUdp);
  nt.set_tunnel(kind == TunnelKind::kVxlan    ? TunnelType::kVxlan
                : kind == TunnelKind::kGeneve ? TunnelType::kGeneve
                                              : TunnelType::kGre);
  nt.set_inner_l2(old.l2());
  nt.set_inner_l3(old.l3());
  nt.set_inner_l4(old.l4());
  pkt.set_packet_type(nt);
  pkt.set_inner_l2_offset(static_cast<uint16_t>(n));
  pkt.set_inner_l3_offset(pkt.l3_offset());
  pkt.set_inner_l4_offset(pkt.l4_offset());
  pkt.set_l3_offset(static_cast<uint16_t>(eth));
  pkt.set_l4_offset(static_cast<uint16_t>(eth + ip_len));
  const uint32_t l4 = eth + ip_len;

  if (pkt.is_gso()) {
    // GSO fills the outer checksums per segment.
    uint16_t bits = kind == TunnelKind::kGre
                        ? (kGsoGre | (config_.gre_csum ? kGsoGreCsum : 0))
                        : (kGsoUdpTunnel | (config_.udp_csum ? kGsoUdpTunnelCsum : 0));
    pkt.set_gso(pkt.gso_type() | bits, pkt.gso_size());
  } else if (kind == TunnelKind::kGre ? config_.gre_csum : config_.udp_csum) {
    if (pkt.csum_state() == CsumState::kPartial && kind == TunnelKind::kVxlan && config_.rco_tx) {
      if (TunnelError e = rco_encode(pkt); e != TunnelError::kOk) return count(e);
      stats_.rco_sent++;
    }
    const uint32_t field = kind == TunnelKind::kGre ? l4 + 4 : l4 + 6;
    if (pkt.csum_state() == CsumState::kPartial) {
      if (kind == TunnelKind::kGre) {
        uint32_t sum;
        if (lco_sum(pkt, l4, &sum) != CsumError::kOk) return count(TunnelError::kChecksum);
        const uint16_t c = csum::finish(sum);
        copy_in(pkt, field, &c, 2);
      } else if (lco_fill_outer_udp(pkt) != CsumError::kOk) {
        return count(TunnelError::kChecksum);
      }
      stats_.outer_csum_lco++;
    } else {
      if (kind == TunnelKind::kGre) {
        uint32_t sum;
        if (!csum::sum_chain(pkt, l4, chain_length(pkt) - l4, 0, &sum)) {
          return count(TunnelError::kChecksum);
        }
        const uint16_t c = csum::finish(sum);
        copy_in(pkt, field, &c, 2);
      } else if (csum::fill_l4(pkt, csum::Layer::kOuter) != CsumError::kOk) {
        return count(TunnelError::kChecksum);
      }
      stats_.outer_csum_full++;
    }
  } else if (pkt.csum_state() == CsumState::kPartial && kind == TunnelKind::kVxlan &&
             config_.rco_tx) {
    if (TunnelError e = rco_encode(pkt); e != TunnelError::kOk) return count(e);
    stats_.rco_sent++;
  }
  if (pkt.csum_state() == CsumState::kUnnecessary) pkt.set_csum_unnecessary(true);
  stats_.encapsulated++;
  return TunnelError::kOk;
}

TunnelError Tunnel::decap(Packet& pkt) {
  const PacketType t = pkt.packet_type();
  const TunnelType tt = t.tunnel();
  if ((tt != TunnelType::kVxlan && tt != TunnelType::kGeneve && tt != TunnelType::kGre) ||
      pkt.inner_l3_offset() == kNoOffset) {
    return count(TunnelError::kNotTunnel);
  }
  if (tt == TunnelType::kVxlan && config_.rco_rx) {
    bool applied = false;
    if (TunnelError e = rco_decode(pkt, &applied); e != TunnelError::kOk) return count(e);
    if (applied) {
      stats_.rco_received++;
      if (pkt.csum_state() == CsumState::kComplete) stats_.rco_complete++;
    }
  }
  const uint32_t eth = proto::kEthernetHeaderLen;
  const bool need_eth = pkt.inner_l2_offset() == kNoOffset;
  if (need_eth && pkt.inner_l3_offset() < eth) return count(TunnelError::kTruncated);
  const uint32_t n = need_eth ? pkt.inner_l3_offset() - eth : pkt.inner_l2_offset();
  if (n > pkt.data_len()) return count(TunnelError::kTruncated);
  // GRE carrying IP: the last outer bytes become an Ethernet header for the inner packet.
  const uint32_t keep_from = need_eth ? n + eth : n;
  uint8_t macs[2 * ETH_ALEN];
  if (need_eth) std::memcpy(macs, pkt.data(), sizeof(macs));

  switch (pkt.csum_state()) {
    case CsumState::kComplete:
      if (pkt.csum_start() < keep_from) {
        // Take the stripped (or rewritten) bytes out of the sum (Linux skb_postpull_rcsum).
        const uint32_t cut = keep_from - pkt.csum_start();
        uint32_t prefix;
        if (!csum::sum_chain(pkt, pkt.csum_start(), cut, 0, &prefix)) {
          return count(TunnelError::kTruncated);
        }
        const uint32_t rest = at_parity(csum::sub(pkt.csum_value(), prefix), cut);
        pkt.set_csum_complete(static_cast<uint16_t>(keep_from), csum::fold(rest));
      }
      break;
    case CsumState::kUnnecessary:
      if (pkt.flags() & kFlagCsumLevelInner) {
        pkt.set_csum_unnecessary(false);
      } else {
        pkt.set_csum_none();
      }
      break;
    default:
      break;
  }
  const uint16_t new_l3 = static_cast<uint16_t>(pkt.inner_l3_offset() - n);
  if (!strip_front(pkt, static_cast<uint16_t>(n), new_l3, stats_.align)) {
    return count(TunnelError::kTruncated);
  }
  if (need_eth) {
    auto* eh = reinterpret_cast<proto::EthernetHeader*>(pkt.data());
    std::memcpy(pkt.data(), macs, sizeof(macs));
    eh->ether_type.set(t.is_inner_ipv6() ? ETH_P_IPV6 : ETH_P_IP);
  }
  if (pkt.is_gso()) pkt.set_gso(pkt.gso_type() & ~kGsoTunnelBits, pkt.gso_size());
  if (proto::parse_packet(pkt) != proto::ParseError::kOk) return count(TunnelError::kInnerParse);
  stats_.decapsulated++;
  return TunnelError::kOk;
}

uint32_t Tunnel::encap_burst(Packet** pkts, uint32_t n, Packet** out) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (encap(*pkts[i]) == TunnelError::kOk) {
      out[k++] = pkts[i];
    } else {
      free_packet(pkts[i]);
    }
  }
  return k;
}

uint32_t Tunnel::decap_burst(Packet** pkts, uint32_t n, Packet** out) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (decap(*pkts[i]) == TunnelError::kOk) {
      out[k++] = pkts[i];
    } else {
      free_packet(pkts[i]);
    }
  }
  return k;
}

}  // namespace ferry::offload
