#include "steer/header_walk.h"

#include <cstring>

#include <netinet/in.h>

#include "packet/segment_reader.h"
#include "proto/ipv6.h"

namespace ferry::steer::detail {

bool read_at(const Packet& p, uint32_t off, void* dst, uint32_t n) {
  if (FERRY_LIKELY(off + n <= p.data_len())) {
    std::memcpy(dst, p.data() + off, n);
    return true;
  }
  SegmentReader reader(p);
  return reader.seek(off) && reader.read(dst, n);
}

// RFC 6275 (Mobile IPv6): the home address destination option and the type 2 routing
// header. Not in the system headers.
constexpr uint8_t kIpv6OptHomeAddress = 0xc9;
constexpr uint8_t kIpv6RoutingType2 = 2;

// Walks the extension headers after the fixed IPv6 header at l3 (bounded count and bytes).
void walk_ipv6_ext(const Packet& p, uint32_t l3, Ipv6Walk* w) {
  uint8_t next;
  if (!read_at(p, l3 + 6, &next, 1)) return;
  uint32_t off = l3 + proto::kIpv6HeaderLen;
  for (int i = 0; i < 8 && proto::is_ipv6_ext_header(next); i++) {
    uint8_t h[2];
    if (!read_at(p, off, h, 2)) return;
    uint32_t len;
    if (next == IPPROTO_FRAGMENT) {
      w->fragment = true;
      len = 8;
    } else if (next == IPPROTO_AH) {
      len = 4u * (h[1] + 2u);
    } else {
      len = 8u * (h[1] + 1u);
    }
    if (next == IPPROTO_ROUTING) {
      uint8_t type;
      // A type 2 routing header is 24 bytes: 8 fixed, then the home address.
      if (read_at(p, off + 2, &type, 1) && type == kIpv6RoutingType2 && len == 24 &&
          read_at(p, off + 8, w->rt2_dst, 16)) {
        w->has_rt2 = true;
      }
    } else if (next == IPPROTO_DSTOPTS) {
      // Scan the TLV options for the home address option (type, len 16, address).
      uint32_t o = off + 2;
      const uint32_t end = off + len;
      while (o + 2 <= end) {
        uint8_t tl[2];
        if (!read_at(p, o, tl, 1)) return;
        if (tl[0] == 0) {  // Pad1
          o++;
          continue;
        }
        if (!read_at(p, o, tl, 2)) return;
        if (tl[0] == kIpv6OptHomeAddress && tl[1] == 16 && o + 18 <= end &&
            read_at(p, o + 2, w->home, 16)) {
          w->has_home = true;
        }
        o += 2u + tl[1];
      }
    }
    next = h[0];
    off += len;
  }
  w->upper = next;
}

}  // namespace ferry::steer::detail
