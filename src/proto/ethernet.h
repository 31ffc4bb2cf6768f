#pragma once

// Ethernet II header view and the MAC address type.

#include <cstdint>
#include <cstring>

#include <linux/if_ether.h>

#include "base/byteorder.h"

namespace ferry::proto {

// A 48-bit MAC address as it sits on the wire (alignment 1, no padding).
struct MacAddress {
  uint8_t bytes[ETH_ALEN] = {};

  // Group bit: multicast or broadcast.
  constexpr bool is_multicast() const { return (bytes[0] & 0x01) != 0; }
  constexpr bool is_broadcast() const {
    for (uint8_t b : bytes)
      if (b != 0xff) return false;
    return true;
  }
  constexpr bool is_zero() const {
    for (uint8_t b : bytes)
      if (b != 0) return false;
    return true;
  }
  constexpr bool is_locally_administered() const { return (bytes[0] & 0x02) != 0; }
  // The address as a 48-bit integer, first byte most significant (for hashing and tables).
  constexpr uint64_t to_u64() const {
    uint64_t v = 0;
    for (uint8_t b : bytes)
      v = (v << 8) | b;
    return v;
  }
  static constexpr MacAddress from_u64(uint64_t v) {
    MacAddress m;
    for (int i = ETH_ALEN - 1; i >= 0; i--, v >>= 8)
      m.bytes[i] = static_cast<uint8_t>(v);
    return m;
  }
  friend constexpr bool operator==(const MacAddress& a, const MacAddress& b) = default;
};
static_assert(sizeof(MacAddress) == ETH_ALEN && alignof(MacAddress) == 1);

inline constexpr MacAddress kBroadcastMac = MacAddress::from_u64(0xffffffffffffULL);

struct EthernetHeader {
  MacAddress dst;
  MacAddress src;
  Be16 ether_type;  // EtherType, or an 802.3 length when < kEthTypeMin

  // Values below 0x0600 are 802.3 lengths (LLC/SNAP frames), not EtherTypes.
  bool has_ether_type() const { return ether_type.value() >= kEthTypeMin; }

  static constexpr uint16_t kEthTypeMin = ETH_P_802_3_MIN;
};
static_assert(sizeof(EthernetHeader) == ETH_HLEN && alignof(EthernetHeader) == 1);

inline constexpr uint32_t kEthernetHeaderLen = ETH_HLEN;

}  // namespace ferry::proto
