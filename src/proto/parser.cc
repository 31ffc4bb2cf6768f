#include "proto/parser.h"

#include <algorithm>
#include <cstring>

#include <linux/if_ether.h>
#include <netinet/in.h>

#include "base/byteorder.h"
#include "base/compiler.h"
#include "proto/arp.h"
#include "proto/ethernet.h"
#include "proto/geneve.h"
#include "proto/gre.h"
#include "proto/icmp.h"
#include "proto/icmpv6.h"
#include "proto/ipv4.h"
#include "proto/ipv6.h"
#include "proto/mpls.h"
#include "proto/sctp.h"
#include "proto/tcp.h"
#include "proto/udp.h"
#include "proto/vlan.h"
#include "proto/vxlan.h"

namespace ferry::proto {

const char* to_string(ParseError error) {
  switch (error) {
    case ParseError::kOk:
      return "ok";
    case ParseError::kTruncated:
      return "truncated";
    case ParseError::kBadVersion:
      return "bad-version";
    case ParseError::kBadHeaderLength:
      return "bad-header-length";
    case ParseError::kLengthMismatch:
      return "length-mismatch";
    case ParseError::kTooManyHeaders:
      return "too-many-headers";
    case ParseError::kBadOption:
      return "bad-option";
    case ParseError::kBadFragment:
      return "bad-fragment";
    case ParseError::kUnsupported:
      return "unsupported";
    case ParseError::kHeadersTooLong:
      return "headers-too-long";
    case ParseError::kCount:
      break;
  }
  return "?";
}

namespace {

using E = ParseError;

// Parses from `p`, of which `avail` bytes may be read, a frame of `size` bytes
// (avail < size when only the first bytes of a chained packet were copied out).
//
// Every access goes through need(): a range must lie inside the enclosing `end` (which is
// never beyond `size`) and inside `avail`. Offsets are uint32_t and bounded by size plus a
// few header lengths, so the additions cannot overflow.
class Parser {
 public:
  // Writes straight into `out` (the caller's return slot): building the result on the
  // side and copying it out costs a store-forwarding stall per frame.
  Parser(const uint8_t* p, uint32_t avail, uint32_t size, const ParseOptions& options,
         ParseResult& out)
      : p_(p), avail_(std::min(avail, size)), size_(size), opt_(options), r_(out) {}

  void run() {
    r_ = ParseResult();
    E e = ethernet<false>(0, size_);
    if (e == E::kOk && FERRY_UNLIKELY(hdr_end_ >= kNoOffset)) e = E::kHeadersTooLong;
    if (FERRY_UNLIKELY(e != E::kOk)) {
      r_ = ParseResult();
      r_.error = e;
      return;
    }
    r_.headers_len = static_cast<uint16_t>(hdr_end_);
  }

 private:
  // [off, off + n) must be inside [.., end): else `past_end`; readable: else kHeadersTooLong.
  FERRY_ALWAYS_INLINE E need(uint32_t off, uint32_t n, uint32_t end,
                             E past_end = E::kTruncated) const {
    if (FERRY_UNLIKELY(off + n > end)) return past_end;
    if (FERRY_UNLIKELY(off + n > avail_)) return E::kHeadersTooLong;
    return E::kOk;
  }
  template <typename T>
  const T* at(uint32_t off) const {
    return reinterpret_cast<const T*>(p_ + off);
  }
  void headers_to(uint32_t end) { hdr_end_ = std::max(hdr_end_, end); }

  // Offsets are stored as uint16_t; they are all below avail_, which fits unless a linear
  // frame is longer than 64 KiB, so the check is cheap and rarely taken.
  static uint16_t off16(uint32_t off) {
    return off < kNoOffset ? static_cast<uint16_t>(off) : kNoOffset - 1;
  }
  template <bool kInner>
  void set_l2(L2Type t) {
    if constexpr (kInner) {
      r_.type.set_inner_l2(t);
    } else {
      r_.type.set_l2(t);
    }
  }
  template <bool kInner>
  void set_l3(L3Type t, uint32_t off) {
    if constexpr (kInner) {
      r_.type.set_inner_l3(t);
      r_.inner_l3_offset = off16(off);
    } else {
      r_.type.set_l3(t);
      r_.l3_offset = off16(off);
    }
  }
  template <bool kInner>
  void set_l3_type(L3Type t) {
    if constexpr (kInner) {
      r_.type.set_inner_l3(t);
    } else {
      r_.type.set_l3(t);
    }
  }
  template <bool kInner>
  void set_l4(L4Type t, uint32_t off) {
    if constexpr (kInner) {
      r_.type.set_inner_l4(t);
      r_.inner_l4_offset = t == L4Type::kFragment ? kNoOffset : off16(off);
    } else {
      r_.type.set_l4(t);
      r_.l4_offset = t == L4Type::kFragment ? kNoOffset : off16(off);
    }
  }
  E check_offset(uint32_t off) const {
    return FERRY_UNLIKELY(off >= kNoOffset - 1) ? E::kHeadersTooLong : E::kOk;
  }

  template <bool kInner>
  E ethernet(uint32_t off, uint32_t end);
  template <bool kInner>
  E mpls(uint32_t off, uint32_t end);
  template <bool kInner>
  E ipv4(uint32_t off, uint32_t end);
  template <bool kInner>
  E ipv6(uint32_t off, uint32_t end);
  template <bool kInner>
  E l4(uint8_t proto, uint32_t off, uint32_t end, bool first_fragment);
  template <bool kInner>
  E tcp(uint32_t off, uint32_t end, bool first_fragment);
  template <bool kInner>
  E udp(uint32_t off, uint32_t end, bool first_fragment);
  template <bool kInner>
  E icmpv6(uint32_t off, uint32_t end);
  E gre(uint32_t off, uint32_t end);
  E vxlan(uint32_t off, uint32_t end);
  E geneve(uint32_t off, uint32_t end);
  E inner_l3(uint16_t ether_type, uint32_t off, uint32_t end);

  const uint8_t* p_;
  uint32_t avail_;
  uint32_t size_;
  const ParseOptions& opt_;
  ParseResult& r_;
  uint32_t hdr_end_ = 0;
};

template <bool kInner>
E Parser::ethernet(uint32_t off, uint32_t end) {
  if (E e = need(off, kEthernetHeaderLen, end); e != E::kOk) return e;
  if constexpr (kInner) {
    if (E e = check_offset(off); e != E::kOk) return e;
    r_.inner_l2_offset = static_cast<uint16_t>(off);
  }
  uint16_t type = at<EthernetHeader>(off)->ether_type.value();
  off += kEthernetHeaderLen;
  L2Type l2 = L2Type::kEther;
  unsigned tags = 0;
  while (is_vlan_tpid(type)) {
    if (++tags > opt_.max_vlan_tags) return E::kTooManyHeaders;
    if (E e = need(off, sizeof(VlanTag), end); e != E::kOk) return e;
    type = at<VlanTag>(off)->ether_type.value();
    off += sizeof(VlanTag);
    l2 = tags == 1 ? L2Type::kEtherVlan : L2Type::kEtherQinq;
  }
  headers_to(off);
  if (E e = check_offset(off); e != E::kOk) return e;

  switch (type) {
    case ETH_P_IP:
      set_l2<kInner>(l2);
      return ipv4<kInner>(off, end);
    case ETH_P_IPV6:
      set_l2<kInner>(l2);
      return ipv6<kInner>(off, end);
    case ETH_P_ARP: {
      set_l2<kInner>(L2Type::kEtherArp);
      if (E e = need(off, sizeof(ArpHeader), end); e != E::kOk) return e;
      const uint32_t len = at<ArpHeader>(off)->message_len();
      if (E e = need(off, len, end); e != E::kOk) return e;
      set_l3<kInner>(L3Type::kOther, off);
      headers_to(off + len);
      return E::kOk;
    }
    case ETH_P_MPLS_UC:
    case ETH_P_MPLS_MC:
      set_l2<kInner>(L2Type::kEtherMpls);
      return mpls<kInner>(off, end);
    default:
      set_l2<kInner>(l2);
      // An 802.3 length (LLC/SNAP follows) or an EtherType not parsed here.
      if (type >= EthernetHeader::kEthTypeMin && off < end) set_l3<kInner>(L3Type::kOther, off);
      return E::kOk;
  }
}

template <bool kInner>
E Parser::mpls(uint32_t off, uint32_t end) {
  for (unsigned labels = 1;; labels++) {
    if (labels > opt_.max_mpls_labels) return E::kTooManyHeaders;
    if (E e = need(off, sizeof(MplsLabel), end); e != E::kOk) return e;
    const bool bottom = at<MplsLabel>(off)->bottom_of_stack();
    off += sizeof(MplsLabel);
    if (bottom) break;
  }
  headers_to(off);
  if (E e = check_offset(off); e != E::kOk) return e;
  // The payload's first byte is needed to tell what it is; MPLS with nothing after the
  // stack is treated as cut short.
  if (E e = need(off, 1, end); e != E::kOk) return e;
  // MPLS does not say what it carries; IP is recognised by its version nibble. Anything
  // else (a pseudowire control word, ...) is left unparsed.
  switch (p_[off] >> 4) {
    case 4:
      return ipv4<kInner>(off, end);
    case 6:
      return ipv6<kInner>(off, end);
    default:
      set_l3<kInner>(L3Type::kOther, off);
      return E::kOk;
  }
}

template <bool kInner>
E Parser::ipv4(uint32_t off, uint32_t end) {
  if (E e = need(off, kIpv4MinHeaderLen, end); e != E::kOk) return e;
  const Ipv4Header* ip = at<Ipv4Header>(off);
  if (FERRY_UNLIKELY(ip->version() != 4)) return E::kBadVersion;
  const uint32_t hlen = ip->header_len();
  if (FERRY_UNLIKELY(hlen < kIpv4MinHeaderLen)) return E::kBadHeaderLength;
  const uint32_t total = ip->total_length.value();
  if (FERRY_UNLIKELY(total < hlen)) return E::kBadHeaderLength;
  // Bytes after total_length are link-layer padding and are ignored.
  if (FERRY_UNLIKELY(off + total > end)) return E::kLengthMismatch;
  if (E e = need(off, hlen, end); e != E::kOk) return e;
  if (hlen > kIpv4MinHeaderLen && !ipv4_options_valid(ip->options())) return E::kBadOption;
  const uint32_t frag_offset = ip->fragment_offset();
  if (FERRY_UNLIKELY(frag_offset + total > kIpv4MaxDatagram)) return E::kBadFragment;

  set_l3<kInner>(hlen > kIpv4MinHeaderLen ? L3Type::kIpv4Ext : L3Type::kIpv4, off);
  headers_to(off + hlen);
  if (frag_offset != 0) {
    set_l4<kInner>(L4Type::kFragment, 0);
    return E::kOk;
  }
  return l4<kInner>(ip->protocol, off + hlen, off + total, ip->more_fragments());
}

template <bool kInner>
E Parser::ipv6(uint32_t off, uint32_t end) {
  if (E e = need(off, kIpv6HeaderLen, end); e != E::kOk) return e;
  const Ipv6Header* ip = at<Ipv6Header>(off);
  if (FERRY_UNLIKELY(ip->version() != 6)) return E::kBadVersion;
  const uint32_t payload = ip->payload_length.value();
  uint8_t next = ip->next_header;
  // Payload length 0 with a hop-by-hop header is a jumbogram (RFC 2675).
  if (FERRY_UNLIKELY(payload == 0 && next == IPPROTO_HOPOPTS)) return E::kUnsupported;
  if (FERRY_UNLIKELY(off + kIpv6HeaderLen + payload > end)) return E::kLengthMismatch;
  const uint32_t start = off + kIpv6HeaderLen;
  const uint32_t pend = start + payload;
  uint32_t cur = start;
  bool first_fragment = false;
  unsigned count = 0;

  set_l3<kInner>(L3Type::kIpv6, off);
  while (is_ipv6_ext_header(next)) {
    if (++count > opt_.max_ipv6_ext_headers) return E::kTooManyHeaders;
    set_l3_type<kInner>(L3Type::kIpv6Ext);
    if (next == IPPROTO_FRAGMENT) {
      if (E e = need(cur, sizeof(Ipv6FragmentHeader), pend); e != E::kOk) return e;
      const Ipv6FragmentHeader* fh = at<Ipv6FragmentHeader>(cur);
      // The payload length of the reassembled packet: the headers before this one, the
      // fragment offset and this fragment's data.
      const uint32_t reassembled =
          (cur - start) + fh->fragment_offset() + (pend - cur - sizeof(Ipv6FragmentHeader));
      if (FERRY_UNLIKELY(reassembled > 65535)) return E::kBadFragment;
      next = fh->next_header;
      cur += sizeof(Ipv6FragmentHeader);
      headers_to(cur);
      if (fh->fragment_offset() != 0) {
        set_l4<kInner>(L4Type::kFragment, 0);
        return E::kOk;
      }
      first_fragment = fh->more_fragments();
      continue;
    }
    uint32_t len;
    if (next == IPPROTO_AH) {
      if (E e = need(cur, sizeof(Ipv6AuthHeader), pend); e != E::kOk) return e;
      len = at<Ipv6AuthHeader>(cur)->header_len();
    } else {
      if (next == IPPROTO_HOPOPTS && count != 1) return E::kBadHeaderLength;  // must be first
      if (E e = need(cur, kIpv6ExtHeaderMinLen, pend); e != E::kOk) return e;
      len = at<Ipv6ExtHeader>(cur)->header_len();
    }
    if (E e = need(cur, len, pend, E::kBadHeaderLength); e != E::kOk) return e;
    if (next == IPPROTO_HOPOPTS || next == IPPROTO_DSTOPTS) {
      Ipv6OptionIterator it({p_ + cur + 2, len - 2});
      Ipv6Option o;
      while (it.next(&o)) {
        if (o.type == IP6OPT_JUMBO) return E::kUnsupported;
      }
      if (it.malformed()) return E::kBadOption;
    }
    next = at<Ipv6ExtHeader>(cur)->next_header;
    cur += len;
    headers_to(cur);
  }
  headers_to(cur);
  return l4<kInner>(next, cur, pend, first_fragment);
}

template <bool kInner>
E Parser::l4(uint8_t proto, uint32_t off, uint32_t end, bool first_fragment) {
  if (E e = check_offset(off); e != E::kOk) return e;
  switch (proto) {
    case IPPROTO_TCP:
      return tcp<kInner>(off, end, first_fragment);
    case IPPROTO_UDP:
      return udp<kInner>(off, end, first_fragment);
    case IPPROTO_ICMP:
      if (E e = need(off, kIcmpHeaderLen, end); e != E::kOk) {
        if (e == E::kTruncated && first_fragment) break;
        return e;
      }
      set_l4<kInner>(L4Type::kIcmp, off);
      headers_to(off + kIcmpHeaderLen);
      return E::kOk;
    case IPPROTO_ICMPV6:
      return icmpv6<kInner>(off, end);
    case IPPROTO_SCTP:
      if (E e = need(off, kSctpHeaderLen, end); e != E::kOk) {
        if (e == E::kTruncated && first_fragment) break;
        return e;
      }
      set_l4<kInner>(L4Type::kSctp, off);
      headers_to(off + kSctpHeaderLen);
      return E::kOk;
    case IPPROTO_NONE:
      return E::kOk;
    case IPPROTO_GRE:
      if (opt_.descend_tunnels && !kInner && !first_fragment) return gre(off, end);
      if (off < end) set_l4<kInner>(L4Type::kOther, off);
      return E::kOk;
    case IPPROTO_IPIP:
    case IPPROTO_IPV6:
      if (opt_.descend_tunnels && !kInner && !first_fragment) {
        r_.type.set_tunnel(TunnelType::kIpInIp);
        return proto == IPPROTO_IPIP ? ipv4<true>(off, end) : ipv6<true>(off, end);
      }
      if (off < end) set_l4<kInner>(L4Type::kOther, off);
      return E::kOk;
    default:
      if (off < end) set_l4<kInner>(L4Type::kOther, off);
      return E::kOk;
  }
  // A first fragment too short to hold its L4 header: not descended into.
  set_l4<kInner>(L4Type::kFragment, 0);
  return E::kOk;
}

template <bool kInner>
E Parser::tcp(uint32_t off, uint32_t end, bool first_fragment) {
  if (E e = need(off, kTcpMinHeaderLen, end); e != E::kOk) {
    if (e != E::kTruncated || !first_fragment) return e;
    set_l4<kInner>(L4Type::kFragment, 0);
    return E::kOk;
  }
  const TcpHeader* tcp = at<TcpHeader>(off);
  const uint32_t hlen = tcp->header_len();
  if (FERRY_UNLIKELY(hlen < kTcpMinHeaderLen)) return E::kBadHeaderLength;
  if (E e = need(off, hlen, end, E::kBadHeaderLength); e != E::kOk) {
    if (e != E::kBadHeaderLength || !first_fragment) return e;
    set_l4<kInner>(L4Type::kFragment, 0);
    return E::kOk;
  }
  // NOP, NOP, timestamps: the option block of nearly every segment of an established
  // connection (RFC 7323 appendix A) is well-formed by construction; skip the walk.
  const bool ts_only =
      hlen == kTcpMinHeaderLen + 12 && load_be32(p_ + off + kTcpMinHeaderLen) == 0x0101080a;
  if (hlen > kTcpMinHeaderLen && !ts_only) {
    TcpOptionIterator it(*tcp);
    TcpOption o;
    while (it.next(&o)) {
    }
    if (it.malformed()) return E::kBadOption;
  }
  set_l4<kInner>(L4Type::kTcp, off);
  headers_to(off + hlen);
  return E::kOk;
}

template <bool kInner>
E Parser::udp(uint32_t off, uint32_t end, bool first_fragment) {
  if (E e = need(off, kUdpHeaderLen, end); e != E::kOk) {
    if (e != E::kTruncated || !first_fragment) return e;
    set_l4<kInner>(L4Type::kFragment, 0);
    return E::kOk;
  }
  const UdpHeader* udp = at<UdpHeader>(off);
  const uint32_t len = udp->length.value();
  if (FERRY_UNLIKELY(len < kUdpHeaderLen)) return E::kLengthMismatch;
  set_l4<kInner>(L4Type::kUdp, off);
  headers_to(off + kUdpHeaderLen);
  // The UDP length of a first fragment counts the whole datagram; nothing to check, and
  // its tunnel payload is incomplete, so it is not descended into.
  if (first_fragment) return E::kOk;
  if (FERRY_UNLIKELY(off + len > end)) return E::kLengthMismatch;
  if (!opt_.descend_tunnels || kInner) return E::kOk;
  const uint16_t port = udp->dst_port.value();
  if (port == opt_.vxlan_port) return vxlan(off + kUdpHeaderLen, off + len);
  if (port == opt_.geneve_port) return geneve(off + kUdpHeaderLen, off + len);
  return E::kOk;
}

template <bool kInner>
E Parser::icmpv6(uint32_t off, uint32_t end) {
  if (E e = need(off, kIcmpv6HeaderLen, end); e != E::kOk) return e;
  const uint8_t type = at<Icmpv6Header>(off)->type;
  set_l4<kInner>(L4Type::kIcmpv6, off);
  headers_to(off + kIcmpv6HeaderLen);
  // Neighbour discovery messages are used by the switch itself (ARP's IPv6 counterpart),
  // so their options are checked here once.
  if (type != ND_NEIGHBOR_SOLICIT && type != ND_NEIGHBOR_ADVERT) return E::kOk;
  const uint32_t fixed = nd_fixed_len(type);
  if (E e = need(off, fixed, end); e != E::kOk) return e;
  if (E e = need(off, end - off, end); e != E::kOk) return e;  // the options are read
  NdOptionIterator it({p_ + off + fixed, end - off - fixed});
  NdOption o;
  while (it.next(&o)) {
  }
  if (it.malformed()) return E::kBadOption;
  headers_to(off + fixed);
  return E::kOk;
}

E Parser::inner_l3(uint16_t ether_type, uint32_t off, uint32_t end) {
  if (E e = check_offset(off); e != E::kOk) return e;
  switch (ether_type) {
    case ETH_P_TEB:
      return ethernet<true>(off, end);
    case ETH_P_IP:
      return ipv4<true>(off, end);
    case ETH_P_IPV6:
      return ipv6<true>(off, end);
    default:
      return E::kOk;  // the tunnel is recorded; its payload is not parsed
  }
}

E Parser::gre(uint32_t off, uint32_t end) {
  if (E e = need(off, kGreMinHeaderLen, end); e != E::kOk) return e;
  const GreHeader* gre = at<GreHeader>(off);
  set_l4<false>(L4Type::kOther, off);
  r_.type.set_tunnel(TunnelType::kGre);
  // Version 1 (PPTP) and the obsolete routing field of RFC 1701 are not descended into.
  if (gre->version() != 0 || gre->routing_present()) {
    headers_to(off + kGreMinHeaderLen);
    return E::kOk;
  }
  const uint32_t hlen = gre->header_len();
  if (E e = need(off, hlen, end); e != E::kOk) return e;
  headers_to(off + hlen);
  return inner_l3(gre->protocol.value(), off + hlen, end);
}

E Parser::vxlan(uint32_t off, uint32_t end) {
  if (E e = need(off, kVxlanHeaderLen, end); e != E::kOk) return e;
  // Without the I flag this is not VXLAN as RFC 7348 defines it: left as UDP payload.
  if (!at<VxlanHeader>(off)->vni_valid()) return E::kOk;
  r_.type.set_tunnel(TunnelType::kVxlan);
  headers_to(off + kVxlanHeaderLen);
  return ethernet<true>(off + kVxlanHeaderLen, end);
}

E Parser::geneve(uint32_t off, uint32_t end) {
  if (E e = need(off, kGeneveHeaderLen, end); e != E::kOk) return e;
  const GeneveHeader* g = at<GeneveHeader>(off);
  if (g->version() != 0) return E::kBadVersion;
  const uint32_t hlen = g->header_len();
  if (E e = need(off, hlen, end, E::kBadHeaderLength); e != E::kOk) return e;
  GeneveOptionIterator it(g->options());
  GeneveOption o;
  while (it.next(&o)) {
  }
  if (it.malformed()) return E::kBadOption;
  r_.type.set_tunnel(TunnelType::kGeneve);
  headers_to(off + hlen);
  return inner_l3(g->protocol.value(), off + hlen, end);
}

}  // namespace

ParseResult parse_frame(std::span<const uint8_t> frame, const ParseOptions& options) {
  const uint32_t size = static_cast<uint32_t>(std::min<size_t>(frame.size(), UINT32_MAX / 2));
  ParseResult r;
  Parser(frame.data(), size, size, options, r).run();
  return r;
}

ParseError parse_packet(Packet& packet, const ParseOptions& options) {
  const uint32_t size = packet.is_chained() ? packet.pkt_len() : packet.data_len();
  ParseResult r;
  Parser(packet.data(), packet.data_len(), size, options, r).run();
  if (r.error == ParseError::kHeadersTooLong && packet.is_chained() &&
      packet.data_len() < std::min(size, kMaxChainedHeaderBytes)) {
    // The headers continue in later segments: parse a copy of the first bytes.
    uint8_t scratch[kMaxChainedHeaderBytes];
    uint32_t copied = 0;
    const uint32_t want = std::min(size, kMaxChainedHeaderBytes);
    for (const Packet* s = &packet; s != nullptr && copied < want; s = s->next()) {
      const uint32_t n = std::min(s->data_len(), want - copied);
      std::memcpy(scratch + copied, s->data(), n);
      copied += n;
    }
    Parser(scratch, copied, size, options, r).run();
  }
  packet.set_packet_type(r.type);
  packet.set_l3_offset(r.l3_offset);
  packet.set_l4_offset(r.l4_offset);
  packet.set_inner_l2_offset(r.inner_l2_offset);
  packet.set_inner_l3_offset(r.inner_l3_offset);
  packet.set_inner_l4_offset(r.inner_l4_offset);
  return r.error;
}

}  // namespace ferry::proto
