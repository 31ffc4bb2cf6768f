#pragma once

// MPLS label stack entry (RFC 3032).

#include <cstdint>

#include <linux/if_ether.h>

#include "base/byteorder.h"

namespace ferry::proto {

struct MplsLabel {
  Be32 entry;  // label(20) TC(3) S(1) TTL(8)

  uint32_t label() const { return entry.value() >> 12; }
  uint8_t traffic_class() const { return static_cast<uint8_t>((entry.value() >> 9) & 0x7); }
  bool bottom_of_stack() const { return (entry.value() & 0x100) != 0; }
  uint8_t ttl() const { return static_cast<uint8_t>(entry.value()); }
};
static_assert(sizeof(MplsLabel) == 4 && alignof(MplsLabel) == 1);

inline constexpr bool is_mpls_ethertype(uint16_t ether_type) {
  return ether_type == ETH_P_MPLS_UC || ether_type == ETH_P_MPLS_MC;
}

}  // namespace ferry::proto
