#pragma once

// VXLAN header view (RFC 7348). An Ethernet frame follows it.

#include <cstdint>

#include "base/byteorder.h"

namespace ferry::proto {

struct VxlanHeader {
  Be32 flags;         // I flag (0x08000000): the VNI is valid; other bits reserved
  Be32 vni_reserved;  // VNI(24) reserved(8)

  static constexpr uint32_t kFlagVni = 0x08000000;

  bool vni_valid() const { return (flags.value() & kFlagVni) != 0; }
  uint32_t vni() const { return vni_reserved.value() >> 8; }
};
static_assert(sizeof(VxlanHeader) == 8 && alignof(VxlanHeader) == 1);

inline constexpr uint32_t kVxlanHeaderLen = 8;
inline constexpr uint16_t kVxlanPort = 4789;  // IANA

}  // namespace ferry::proto
