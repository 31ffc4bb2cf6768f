#pragma once

// Checksums of IP: the pseudo-header sums that TCP, UDP and ICMPv6 include, the IPv4
// header checksum, and incremental updates after a field changed (RFC 1624).
//
// Addresses are read as they sit in the packet (network order); protocol numbers and
// lengths are host integers. Sums follow raw_sum.h: unfolded, memory word order.

#include <cstddef>
#include <cstdint>

#include "base/byteorder.h"
#include "csum/raw_sum.h"

namespace ferry::csum {

// Sum of the IPv4 pseudo header: source and destination address (4 bytes each, network
// order), zero + protocol, and the L4 length (header + payload).
inline uint32_t pseudo_sum_ipv4(const void* src, const void* dst, uint8_t protocol,
                                uint16_t l4_len) {
  uint64_t s = uint64_t{load_unaligned<uint32_t>(src)} + load_unaligned<uint32_t>(dst) +
               (uint32_t{protocol} << 8) + __builtin_bswap16(l4_len);
  return add(static_cast<uint32_t>(s), static_cast<uint32_t>(s >> 32));
}

// Sum of the IPv6 pseudo header (RFC 8200 8.1): addresses (16 bytes each), the 32-bit
// upper-layer length and the next header value.
uint32_t pseudo_sum_ipv6(const void* src, const void* dst, uint8_t next_header, uint32_t l4_len);

// The IPv4 header checksum of the `len` bytes at `header` (len = IHL * 4, at least 20),
// whatever the checksum field holds now.
uint16_t ipv4_header_checksum(const void* header, size_t len);
// Computes and stores it in the header.
void ipv4_header_fill(void* header, size_t len);
// Whether the checksum of a 20-byte IPv4 header (no options) is right: five 32-bit words
// summed inline, for per-packet checks where a call into the SIMD kernel costs more than
// the sum.
inline bool ipv4_header_valid20(const void* header) {
  const auto* p = static_cast<const uint8_t*>(header);
  uint64_t s = uint64_t{load_unaligned<uint32_t>(p)} + load_unaligned<uint32_t>(p + 4) +
               load_unaligned<uint32_t>(p + 8) + load_unaligned<uint32_t>(p + 12) +
               load_unaligned<uint32_t>(p + 16);
  return fold(add(static_cast<uint32_t>(s), static_cast<uint32_t>(s >> 32))) == 0xffff;
}
// Whether the header's checksum is right.
inline bool ipv4_header_valid(const void* header, size_t len) {
  return fold(raw_sum(header, len)) == 0xffff;
}

// Incremental update (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')). `check` is the checksum
// field as stored (memory order), old/new the changed data as loaded from memory with
// load_unaligned (memory order too). Result: the new field value, equal to what a full
// recomputation gives. A UDP checksum of 0 over IPv4 means "none" and must stay 0; the
// caller skips the update then (and stores 0xffff if an update yields 0).
constexpr uint16_t update_sum(uint16_t check, uint32_t old_sum, uint32_t new_sum) {
  return finish(add(add(static_cast<uint16_t>(~check), ~old_sum), new_sum));
}
constexpr uint16_t update16(uint16_t check, uint16_t old_value, uint16_t new_value) {
  return update_sum(check, old_value, new_value);
}
constexpr uint16_t update32(uint16_t check, uint32_t old_value, uint32_t new_value) {
  return update_sum(check, old_value, new_value);
}
// For longer fields (an IPv6 address): the sums of the old and new bytes.
inline uint16_t update_bytes(uint16_t check, const void* old_bytes, const void* new_bytes,
                             size_t len) {
  return update_sum(check, raw_sum(old_bytes, len), raw_sum(new_bytes, len));
}

}  // namespace ferry::csum
