#include "csum/packet_checksum.h"

#include <cstddef>

#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>

#include "base/byteorder.h"
#include "csum/chain_bytes.h"
#include "csum/ip_checksum.h"
#include "csum/raw_sum.h"

namespace ferry::csum {
namespace {

constexpr uint32_t kIpv4MinHeader = 20;
constexpr uint32_t kIpv4MaxHeader = 60;
constexpr uint32_t kIpv6Header = 40;
constexpr uint16_t kIpv4FragMask = 0x3fff;  // MF and the fragment offset

struct LayerView {
  uint16_t l3;
  uint16_t l4;
  L3Type l3_type;
  L4Type l4_type;
};

LayerView view(const Packet& p, Layer layer) {
  PacketType t = p.packet_type();
  if (layer == Layer::kOuter) return {p.l3_offset(), p.l4_offset(), t.l3(), t.l4()};
  return {p.inner_l3_offset(), p.inner_l4_offset(), t.inner_l3(), t.inner_l4()};
}

bool is_ipv4(L3Type t) {
  return t == L3Type::kIpv4 || t == L3Type::kIpv4Ext;
}
bool is_ipv6(L3Type t) {
  return t == L3Type::kIpv6 || t == L3Type::kIpv6Ext;
}

// Copies the IPv4 header at `l3` into `h` (kIpv4MaxHeader bytes of room) and checks it.
CsumError read_ipv4_header(const Packet& p, uint32_t l3, uint8_t* h, uint32_t* ihl) {
  if (!copy_from_chain(p, l3, h, kIpv4MinHeader)) return CsumError::kTruncated;
  if ((h[0] >> 4) != 4) return CsumError::kBadHeader;
  *ihl = (h[0] & 0xfu) * 4;
  if (*ihl < kIpv4MinHeader) return CsumError::kBadHeader;
  if (*ihl > kIpv4MinHeader &&
      !copy_from_chain(p, l3 + kIpv4MinHeader, h + kIpv4MinHeader, *ihl - kIpv4MinHeader)) {
    return CsumError::kTruncated;
  }
  return CsumError::kOk;
}

// RFC 8200 8.1: with a Routing header the pseudo header carries the final destination,
// which the sender finds in the Routing header (while segments are left). Walks the
// extension headers between the fixed header and the L4 header; copies the final
// destination into `dst` if a Routing header names one.
CsumError final_destination(const Packet& p, uint32_t l3, uint32_t l4, uint8_t next_header,
                            uint8_t* dst) {
  uint32_t at = l3 + kIpv6Header;
  for (int i = 0; i < 16 && at < l4; i++) {
    uint8_t ext[8];
    if (!copy_from_chain(p, at, ext, sizeof(ext))) return CsumError::kTruncated;
    uint32_t len = next_header == IPPROTO_AH ? (ext[1] + 2u) * 4 : (ext[1] + 1u) * 8;
    if (next_header == IPPROTO_ROUTING && ext[3] != 0) {  // segments left
      const uint8_t type = ext[2];
      const uint32_t addresses = ext[1] / 2;
      uint32_t which = 0;
      if (type == 0 || type == 2) {
        which = addresses;  // the last address (type 2 has exactly one)
      } else if (type == 4) {
        which = 1;  // Segment Routing: Segment List[0] is the final segment
      }
      if (which != 0 && addresses >= which) {
        if (!copy_from_chain(p, at + 8 + 16 * (which - 1), dst, 16)) return CsumError::kTruncated;
      }
    }
    next_header = ext[0];
    at += len;
  }
  return at == l4 ? CsumError::kOk : CsumError::kBadHeader;
}

bool skippable(CsumError e) {
  return e == CsumError::kNoHeader || e == CsumError::kUnsupported;
}

}  // namespace

CsumError locate_l4(const Packet& p, Layer layer, L4Span* span) {
  LayerView v = view(p, layer);
  uint8_t proto;
  uint32_t field;
  uint32_t min_len;
  switch (v.l4_type) {
    case L4Type::kTcp:
      proto = IPPROTO_TCP;
      field = offsetof(tcphdr, check);
      min_len = sizeof(tcphdr);
      break;
    case L4Type::kUdp:
      proto = IPPROTO_UDP;
      field = offsetof(udphdr, check);
      min_len = sizeof(udphdr);
      break;
    case L4Type::kIcmp:
      proto = IPPROTO_ICMP;
      field = offsetof(icmphdr, checksum);
      min_len = 4;
      break;
    case L4Type::kIcmpv6:
      proto = IPPROTO_ICMPV6;
      field = offsetof(icmp6hdr, icmp6_cksum);
      min_len = 4;
      break;
    case L4Type::kFragment:
      return CsumError::kFragment;
    case L4Type::kNone:
      return CsumError::kNoHeader;
    default:
      return CsumError::kUnsupported;
  }
  if (v.l3 == kNoOffset || v.l4 == kNoOffset) return CsumError::kNoHeader;
  const uint32_t data_len = chain_data_len(p);
  const uint32_t l3 = v.l3;
  const uint32_t l4 = v.l4;
  uint32_t end;
  uint8_t h[kIpv4MaxHeader];
  if (is_ipv4(v.l3_type)) {
    if (proto == IPPROTO_ICMPV6) return CsumError::kUnsupported;
    uint32_t ihl;
    if (CsumError e = read_ipv4_header(p, l3, h, &ihl); e != CsumError::kOk) return e;
    uint32_t total = load_be16(h + 2);
    if (total < ihl) return CsumError::kBadLength;
    end = l3 + total;
    if (end > data_len) return CsumError::kTruncated;
    if ((load_be16(h + 6) & kIpv4FragMask) != 0) return CsumError::kFragment;
    if (l4 < l3 + ihl || l4 > end) return CsumError::kBadHeader;
    span->is_ipv6 = false;
  } else if (is_ipv6(v.l3_type)) {
    if (proto == IPPROTO_ICMP) return CsumError::kUnsupported;
    if (!copy_from_chain(p, l3, h, kIpv6Header)) return CsumError::kTruncated;
    if ((h[0] >> 4) != 6) return CsumError::kBadHeader;
    uint32_t payload = load_be16(h + 4);
    end = payload != 0 ? l3 + kIpv6Header + payload : data_len;  // 0: a jumbogram
    if (end > data_len) return CsumError::kTruncated;
    if (l4 < l3 + kIpv6Header || l4 > end) return CsumError::kBadHeader;
    if (l4 > l3 + kIpv6Header) {
      if (CsumError e = final_destination(p, l3, l4, h[6], h + 24); e != CsumError::kOk) {
        return e;
      }
    }
    span->is_ipv6 = true;
  } else {
    return CsumError::kNoHeader;
  }
  uint32_t l4_len = end - l4;
  if (l4_len < min_len) return CsumError::kTruncated;
  if (proto == IPPROTO_UDP) {
    uint8_t len_bytes[2];
    copy_from_chain(p, l4 + offsetof(udphdr, len), len_bytes, 2);
    uint32_t udp_len = load_be16(len_bytes);
    if (udp_len == 0 && span->is_ipv6 && l4_len > 0xffff) udp_len = l4_len;  // jumbogram
    if (udp_len < sizeof(udphdr) || udp_len > l4_len) return CsumError::kBadLength;
    l4_len = udp_len;
  }
  span->l4_offset = l4;
  span->l4_len = l4_len;
  span->field_offset = l4 + field;
  span->is_udp = proto == IPPROTO_UDP;
  if (span->is_ipv6) {
    span->pseudo_sum = pseudo_sum_ipv6(h + 8, h + 24, proto, l4_len);
  } else {
    span->pseudo_sum = proto == IPPROTO_ICMP
                           ? 0
                           : pseudo_sum_ipv4(h + 12, h + 16, proto, static_cast<uint16_t>(l4_len));
  }
  return CsumError::kOk;
}

CsumError fill_ipv4_header(Packet& p, Layer layer) {
  LayerView v = view(p, layer);
  if (v.l3 == kNoOffset || !is_ipv4(v.l3_type)) return CsumError::kNoHeader;
  uint8_t h[kIpv4MaxHeader];
  uint32_t ihl;
  if (CsumError e = read_ipv4_header(p, v.l3, h, &ihl); e != CsumError::kOk) return e;
  uint16_t check = ipv4_header_checksum(h, ihl);
  copy_to_chain(p, v.l3 + 10, &check, sizeof(check));
  return CsumError::kOk;
}

CsumError verify_ipv4_header(const Packet& p, Layer layer) {
  LayerView v = view(p, layer);
  if (v.l3 == kNoOffset || !is_ipv4(v.l3_type)) return CsumError::kNoHeader;
  uint8_t h[kIpv4MaxHeader];
  uint32_t ihl;
  if (CsumError e = read_ipv4_header(p, v.l3, h, &ihl); e != CsumError::kOk) return e;
  return ipv4_header_valid(h, ihl) ? CsumError::kOk : CsumError::kBadChecksum;
}

CsumError fill_l4(Packet& p, Layer layer) {
  L4Span s;
  if (CsumError e = locate_l4(p, layer, &s); e != CsumError::kOk) return e;
  uint16_t check = 0;
  copy_to_chain(p, s.field_offset, &check, sizeof(check));
  uint32_t sum;
  if (!sum_chain(p, s.l4_offset, s.l4_len, s.pseudo_sum, &sum)) return CsumError::kTruncated;
  check = finish(sum);
  if (s.is_udp && check == 0) check = 0xffff;
  copy_to_chain(p, s.field_offset, &check, sizeof(check));
  return CsumError::kOk;
}

CsumError verify_l4(const Packet& p, Layer layer) {
  L4Span s;
  if (CsumError e = locate_l4(p, layer, &s); e != CsumError::kOk) return e;
  if (s.is_udp) {
    uint16_t check = 0;
    copy_from_chain(p, s.field_offset, &check, sizeof(check));
    if (check == 0) return s.is_ipv6 ? CsumError::kBadChecksum : CsumError::kOk;
  }
  uint32_t sum;
  if (!sum_chain(p, s.l4_offset, s.l4_len, s.pseudo_sum, &sum)) return CsumError::kTruncated;
  return fold(sum) == 0xffff ? CsumError::kOk : CsumError::kBadChecksum;
}

CsumError fill_all(Packet& p) {
  for (Layer layer : {Layer::kInner, Layer::kOuter}) {
    if (CsumError e = fill_l4(p, layer);
        e != CsumError::kOk && !skippable(e) && e != CsumError::kFragment) {
      return e;
    }
    if (CsumError e = fill_ipv4_header(p, layer); e != CsumError::kOk && !skippable(e)) {
      return e;
    }
  }
  return CsumError::kOk;
}

CsumError verify_all(const Packet& p) {
  for (Layer layer : {Layer::kOuter, Layer::kInner}) {
    if (CsumError e = verify_ipv4_header(p, layer); e != CsumError::kOk && !skippable(e)) {
      return e;
    }
    if (CsumError e = verify_l4(p, layer); e != CsumError::kOk && !skippable(e)) return e;
  }
  return CsumError::kOk;
}

}  // namespace ferry::csum
