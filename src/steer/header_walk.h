#pragma once

// Bounds-checked reads of header bytes from a parsed packet, shared by RSS and flow keys.

#include <cstdint>

#include "packet/packet.h"

namespace ferry::steer::detail {

// Copies n bytes at offset `off` of the packet (across segments); false if the chain is
// shorter.
bool read_at(const Packet& p, uint32_t off, void* dst, uint32_t n);

// What the IPv6 extension headers after the fixed header at l3 say (at most 8 headers).
struct Ipv6Walk {
  bool fragment = false;  // a fragment header is present
  bool has_home = false;  // home address destination option (RFC 6275)
  bool has_rt2 = false;   // type 2 routing header (RFC 6275)
  uint8_t upper = 0;      // the next header after the last extension header walked
  uint8_t home[16];
  uint8_t rt2_dst[16];
};
void walk_ipv6_ext(const Packet& p, uint32_t l3, Ipv6Walk* w);

}  // namespace ferry::steer::detail
