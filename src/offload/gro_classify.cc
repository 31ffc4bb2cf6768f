// What GRO takes from a packet before it looks for its flow: the layers to merge on,
// lengths checked against the frame, the flow key and its hash, and checksum validity.

#include <cstring>

#include "base/byteorder.h"
#include "csum/chain_bytes.h"
#include "csum/ip_checksum.h"
#include "csum/offload_state.h"
#include "csum/packet_checksum.h"
#include "offload/gro_flow.h"
#include "packet/segment_reader.h"
#include "proto/geneve.h"
#include "proto/gre.h"
#include "proto/ipv4.h"
#include "proto/ipv6.h"
#include "proto/tcp.h"
#include "proto/udp.h"
#include "proto/vxlan.h"

namespace ferry::offload {
namespace {

using proto::GeneveHeader;
using proto::GreHeader;
using proto::Ipv4Header;
using proto::Ipv6Header;
using proto::TcpHeader;
using proto::UdpHeader;

class KeyWriter {
 public:
  explicit KeyWriter(uint8_t* key) : key_(key) {}
  void put(const void* p, uint32_t len) {
    if (len > kGroMaxKey - n_) {
      overflow_ = true;
      return;
    }
    copy_small(key_ + n_, static_cast<const uint8_t*>(p), len);
    n_ += len;
  }

 private:
  // Keys are built from a few short fields per packet: overlapping fixed-size copies
  // instead of a variable-length memcpy (which compiles to a slow-starting rep movs).
  static void copy_small(uint8_t* d, const uint8_t* s, uint32_t len) {
    if (len >= 8) {
      uint32_t i = 0;
      for (; i + 8 <= len; i += 8)
        std::memcpy(d + i, s + i, 8);
      if (i < len) std::memcpy(d + len - 8, s + len - 8, 8);
    } else if (len >= 4) {
      std::memcpy(d, s, 4);
      std::memcpy(d + len - 4, s + len - 4, 4);
    } else {
      for (uint32_t i = 0; i < len; i++)
        d[i] = s[i];
    }
  }

 public:
  // Pads to a whole number of 8-byte words (zeros) so hashing and comparing use words.
  uint32_t finish() {
    if (n_ % 8 != 0) {
      std::memset(key_ + n_, 0, 8);  // the key buffer has 8 bytes of slack
      n_ = (n_ + 7) & ~7u;
    }
    return n_;
  }
  bool overflow() const { return overflow_; }

 private:
  uint8_t* key_;
  uint32_t n_ = 0;
  bool overflow_ = false;
};

// The hash of a flow, from the fields that tell flows apart (the key holds the rest for
// the equality check): read from the packet, not from the key just written, so the loads
// do not wait on those stores. Each word is multiplied on its own, then mixed.
class FlowHash {
 public:
  void add64(uint64_t w) {
    h_ += (w ^ k_) * 0xff51afd7ed558ccdULL;
    k_ += 0x6a09e667f3bcc909ULL;
  }
  void add_addresses(const uint8_t* ip, bool v6) {
    if (!v6) {
      add64(load_unaligned<uint64_t>(ip + 12));
    } else {
      for (uint32_t i = 8; i < 40; i += 8)
        add64(load_unaligned<uint64_t>(ip + i));
    }
  }
  uint32_t finish() const {
    uint64_t h = h_ ^ (h_ >> 33);
    h *= 0xc4ceb9fe1a85ec53ULL;
    return static_cast<uint32_t>(h ^ (h >> 29));
  }

 private:
  uint64_t h_ = 0x243f6a8885a308d3ULL;
  uint64_t k_ = 0x9e3779b97f4a7c15ULL;
};

// The identity of an IP layer: addresses and protocol (next header). Linux's
// ipv6_gro_receive also treats a different flow label or hop limit as another flow; here
// they end the merge instead (gro_ipv6_check), so that packets of one connection can
// never pass each other.
void put_ip_identity(KeyWriter& k, const uint8_t* ip, bool v6) {
  if (!v6) {
    k.put(ip + 9, 1);   // protocol
    k.put(ip + 12, 8);  // source, destination
  } else {
    k.put(ip + 6, 1);   // next header
    k.put(ip + 8, 32);  // source, destination
  }
}

GroSkip ip_type(L3Type t, bool* v6) {
  switch (t) {
    case L3Type::kIpv4:
      *v6 = false;
      return GroSkip::kCount;
    case L3Type::kIpv6:
      *v6 = true;
      return GroSkip::kCount;
    case L3Type::kIpv4Ext:
      return GroSkip::kIpOptions;
    case L3Type::kIpv6Ext:
      return GroSkip::kIpv6ExtHeaders;
    default:
      return GroSkip::kNotIp;
  }
}

// Checks an IP header whose bytes lie in the head segment against the frame: its
// datagram must end where the frame ends (no padding), no fragment, a good IPv4 header
// checksum.
GroSkip check_ip(const uint8_t* ip, bool v6, uint32_t l3, uint32_t frame_len, uint8_t protocol) {
  if (!v6) {
    const auto* h = reinterpret_cast<const Ipv4Header*>(ip);
    if (h->version() != 4) return GroSkip::kNotIp;
    if (h->ihl() != 5) return GroSkip::kIpOptions;
    if (h->protocol != protocol) return GroSkip::kNotTcpUdp;
    if (h->is_fragment()) return GroSkip::kFragment;
    if (h->total_length.value() != frame_len - l3) return GroSkip::kBadLength;
    if (!csum::ipv4_header_valid20(ip)) return GroSkip::kBadIpChecksum;
  } else {
    const auto* h = reinterpret_cast<const Ipv6Header*>(ip);
    if (h->version() != 6) return GroSkip::kNotIp;
    if (h->next_header != protocol) return GroSkip::kIpv6ExtHeaders;
    if (h->payload_length.value() + proto::kIpv6HeaderLen != frame_len - l3) {
      return GroSkip::kBadLength;
    }
  }
  return GroSkip::kCount;
}

}  // namespace

GroSkip gro_classify(Packet& pkt, const GroConfig& config, GroSegment* s, bool* keyed) {
  *keyed = false;
  s->pkt = &pkt;
  s->v6 = s->outer_v6 = s->outer_udp_csum = s->gre_csum = false;
  s->tcp_flags = 0;
  s->outer_l3 = s->outer_l4 = kNoOffset;
  if (pkt.is_gso()) return GroSkip::kAlreadyGso;
  const PacketType type = pkt.packet_type();
  s->tunnel = type.tunnel();
  L4Type l4_type;
  GroSkip r;
  if (s->tunnel == TunnelType::kNone) {
    if ((r = ip_type(type.l3(), &s->v6)) != GroSkip::kCount) return r;
    l4_type = type.l4();
    s->l3 = pkt.l3_offset();
    s->l4 = pkt.l4_offset();
  } else {
    if (!config.tunnels) return GroSkip::kTunnelUnsupported;
    if (s->tunnel != TunnelType::kVxlan && s->tunnel != TunnelType::kGeneve &&
        s->tunnel != TunnelType::kGre) {
      return GroSkip::kTunnelUnsupported;
    }
    if ((r = ip_type(type.l3(), &s->outer_v6)) != GroSkip::kCount) return r;
    if ((r = ip_type(type.inner_l3(), &s->v6)) != GroSkip::kCount) return r;
    l4_type = type.inner_l4();
    if (l4_type == L4Type::kFragment) return GroSkip::kFragment;
    if (l4_type != L4Type::kTcp) return GroSkip::kTunnelUnsupported;
    s->outer_l3 = pkt.l3_offset();
    s->outer_l4 = pkt.l4_offset();
    s->l3 = pkt.inner_l3_offset();
    s->l4 = pkt.inner_l4_offset();
    if (s->outer_l3 == kNoOffset || s->outer_l4 == kNoOffset) return GroSkip::kNotIp;
  }
  if (l4_type == L4Type::kFragment) return GroSkip::kFragment;
  if (l4_type == L4Type::kTcp) {
    s->proto = GroL4::kTcp;
  } else if (l4_type == L4Type::kUdp) {
    if (!config.udp) return GroSkip::kUdpDisabled;
    s->proto = GroL4::kUdp;
  } else {
    return GroSkip::kNotTcpUdp;
  }
  // Offsets come from the parser, but are checked as if hostile: the IP header must fit
  // before the L4 header.
  const uint32_t ip_min = s->v6 ? proto::kIpv6HeaderLen : proto::kIpv4MinHeaderLen;
  if (s->l3 == kNoOffset || s->l4 == kNoOffset || s->l4 < s->l3 + ip_min) return GroSkip::kNotIp;

  // Every header must lie in the head segment: GRO reads and rewrites them in place.
  const uint8_t* d = pkt.data();
  const uint32_t head_len = pkt.data_len();
  // The descriptor's length must be exactly the bytes of the chain: merged chains are
  // measured by pkt_len().
  if (!pkt.is_chained()) {
    if (pkt.pkt_len() != head_len) return GroSkip::kBadLength;
  } else {
    uint64_t sum = 0;
    for (const Packet* seg = &pkt; seg != nullptr; seg = seg->next())
      sum += seg->data_len();
    if (sum != pkt.pkt_len()) return GroSkip::kBadLength;
  }
  s->frame_len = pkt.pkt_len();
  const uint32_t l4_min = s->proto == GroL4::kTcp ? proto::kTcpMinHeaderLen : proto::kUdpHeaderLen;
  if (s->l4 + l4_min > s->frame_len) return GroSkip::kBadLength;
  if (s->l4 + l4_min > head_len) return GroSkip::kHeadersSplit;
  uint32_t payload;
  if (s->proto == GroL4::kTcp) {
    const auto* th = reinterpret_cast<const TcpHeader*>(d + s->l4);
    if (th->data_offset() < 5) return GroSkip::kBadLength;
    payload = s->l4 + th->header_len();
    s->tcp_flags = th->flags;
  } else {
    payload = s->l4 + proto::kUdpHeaderLen;
  }
  if (payload > s->frame_len) return GroSkip::kBadLength;
  if (payload > head_len) return GroSkip::kHeadersSplit;
  s->payload = static_cast<uint16_t>(payload);
  s->payload_len = s->frame_len - payload;
  const uint16_t first_l3 = s->tunnel == TunnelType::kNone ? s->l3 : s->outer_l3;
  if (first_l3 >= s->l3 && s->tunnel != TunnelType::kNone) return GroSkip::kNotIp;

  // The flow key.
  KeyWriter k(s->key);
  struct {
    uint16_t in_port;
    uint16_t vlan;
    uint8_t bits;
    uint8_t tunnel;
    uint16_t first_l3;
  } meta{};
  meta.in_port = pkt.in_port();
  meta.vlan = pkt.has_vlan_tci() ? pkt.vlan_tci() : 0xffff;
  meta.bits = static_cast<uint8_t>((pkt.has_vlan_tci() ? 1 : 0) | (s->v6 ? 2 : 0) |
                                   (s->outer_v6 ? 4 : 0) | (s->proto == GroL4::kUdp ? 8 : 0));
  meta.tunnel = static_cast<uint8_t>(s->tunnel);
  meta.first_l3 = first_l3;
  k.put(&meta, sizeof(meta));
  k.put(d, first_l3);  // L2 header(s): MAC addresses, VLAN tags, EtherType
  if (s->tunnel != TunnelType::kNone) {
    const uint32_t outer_ip_min = s->outer_v6 ? proto::kIpv6HeaderLen : proto::kIpv4MinHeaderLen;
    if (s->outer_l4 < s->outer_l3 + outer_ip_min || s->outer_l4 + 8u > s->l3) {
      return GroSkip::kNotIp;
    }
    put_ip_identity(k, d + s->outer_l3, s->outer_v6);
    uint32_t inner_start;
    if (s->tunnel == TunnelType::kGre) {
      const auto* g = reinterpret_cast<const GreHeader*>(d + s->outer_l4);
      if (g->version() != 0 || g->routing_present() || g->sequence_present()) {
        return GroSkip::kTunnelUnsupported;
      }
      inner_start = s->outer_l4 + g->header_len();
      if (inner_start > s->l3) return GroSkip::kNotIp;
      s->gre_csum = g->checksum_present();
      k.put(g, 4);  // flags, protocol
      if (g->key_present()) k.put(d + s->outer_l4 + g->key_offset(), 4);
    } else {
      const auto* u = reinterpret_cast<const UdpHeader*>(d + s->outer_l4);
      s->outer_udp_csum = u->checksum.raw() != 0;
      const uint8_t csum_bit = s->outer_udp_csum ? 1 : 0;
      k.put(u, 4);  // ports
      k.put(&csum_bit, 1);
      const uint32_t th = s->outer_l4 + proto::kUdpHeaderLen;
      if (th + proto::kVxlanHeaderLen > s->l3) return GroSkip::kNotIp;  // Geneve: 8 too
      uint32_t tlen = proto::kVxlanHeaderLen;
      if (s->tunnel == TunnelType::kGeneve) {
        tlen = reinterpret_cast<const GeneveHeader*>(d + th)->header_len();
      }
      if (th + tlen > s->l3) return GroSkip::kNotIp;
      k.put(d + th, tlen);  // VXLAN flags and VNI; Geneve header and options
      inner_start = th + tlen;
    }
    const uint16_t inner_l2 = pkt.inner_l2_offset();
    if (inner_l2 != kNoOffset) {
      if (inner_l2 < inner_start || inner_l2 >= s->l3) return GroSkip::kNotIp;
      k.put(d + inner_l2, s->l3 - inner_l2);
    } else if (inner_start != s->l3) {
      return GroSkip::kNotIp;
    }
  }
  put_ip_identity(k, d + s->l3, s->v6);
  k.put(d + s->l4, 4);  // ports
  s->key_len = k.finish();
  if (k.overflow()) return GroSkip::kKeyTooLong;
  FlowHash h;
  uint64_t meta_word;
  static_assert(sizeof(meta) == sizeof(meta_word));
  std::memcpy(&meta_word, &meta, sizeof(meta));
  h.add64(meta_word ^ uint64_t{load_unaligned<uint32_t>(d + s->l4)} << 32);
  h.add_addresses(d + s->l3, s->v6);
  if (s->tunnel != TunnelType::kNone) {
    h.add_addresses(d + s->outer_l3, s->outer_v6);
    h.add64(load_unaligned<uint32_t>(d + s->outer_l4));  // UDP ports, or GRE flags/protocol
  }
  s->hash = h.finish();
  *keyed = true;

  // Lengths and header checksums, outer first.
  if (s->tunnel != TunnelType::kNone) {
    if ((r = check_ip(d + s->outer_l3, s->outer_v6, s->outer_l3, s->frame_len,
                      s->tunnel == TunnelType::kGre ? IPPROTO_GRE : IPPROTO_UDP)) !=
        GroSkip::kCount) {
      return r;
    }
    if (s->tunnel != TunnelType::kGre) {
      const auto* u = reinterpret_cast<const UdpHeader*>(d + s->outer_l4);
      if (u->length.value() != s->frame_len - s->outer_l4) return GroSkip::kBadLength;
    }
  }
  if ((r = check_ip(d + s->l3, s->v6, s->l3, s->frame_len,
                    s->proto == GroL4::kTcp ? IPPROTO_TCP : IPPROTO_UDP)) != GroSkip::kCount)
    return r;
  if (s->proto == GroL4::kUdp) {
    const auto* u = reinterpret_cast<const UdpHeader*>(d + s->l4);
    if (u->length.value() != s->frame_len - s->l4) return GroSkip::kBadLength;
    if (u->checksum.raw() == 0) return GroSkip::kUdpZeroChecksum;
  }
  if (s->payload_len == 0) return GroSkip::kNoPayload;
  return GroSkip::kCount;
}

namespace {

GroSkip verify_layer(const Packet& p, csum::Layer layer, const GroConfig& config) {
  if (p.csum_state() == CsumState::kComplete) {
    csum::CsumError e = csum::verify_l4_complete(p, layer);
    if (e == csum::CsumError::kOk) return GroSkip::kCount;
    if (e != csum::CsumError::kCsumStartAfterL4) return GroSkip::kBadL4Checksum;
  }
  if (!config.verify_checksums) return GroSkip::kUnverifiedChecksum;
  return csum::verify_l4(p, layer) == csum::CsumError::kOk ? GroSkip::kCount
                                                           : GroSkip::kBadL4Checksum;
}

}  // namespace

GroSkip gro_check_checksums(const GroSegment& s, const GroConfig& config) {
  const Packet& p = *s.pkt;
  const CsumState st = p.csum_state();
  if (st == CsumState::kPartial) {
    // A local packet whose checksum is still to be computed: valid by construction, as
    // long as it is the checksum GRO will leave partial.
    return p.csum_start() == s.l4 ? GroSkip::kCount : GroSkip::kUnverifiedChecksum;
  }
  if (s.tunnel == TunnelType::kNone) {
    if (st == CsumState::kUnnecessary) return GroSkip::kCount;
    return verify_layer(p, csum::Layer::kOuter, config);
  }
  // Tunnel: the outer checksum (UDP or GRE) when present, then the inner L4 checksum.
  if (st != CsumState::kUnnecessary) {
    if (s.outer_udp_csum) {
      if (GroSkip r = verify_layer(p, csum::Layer::kOuter, config); r != GroSkip::kCount) return r;
    } else if (s.gre_csum) {
      if (!config.verify_checksums) return GroSkip::kUnverifiedChecksum;
      uint32_t sum = 0;
      if (!csum::sum_chain(p, s.outer_l4, s.frame_len - s.outer_l4, 0, &sum) ||
          csum::fold(sum) != 0xffff) {
        return GroSkip::kBadL4Checksum;
      }
    }
  } else if ((p.flags() & kFlagCsumLevelInner) != 0) {
    return GroSkip::kCount;
  }
  return verify_layer(p, csum::Layer::kInner, config);
}

}  // namespace ferry::offload
