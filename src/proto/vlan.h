#pragma once

// 802.1Q (C-tag) and 802.1ad (S-tag) VLAN tags. A tag follows the source MAC in place of
// the EtherType: TPID (the EtherType that announced it), then TCI, then the next EtherType.
// The view covers TCI + next EtherType, as it follows the TPID of the header before it.

#include <cstdint>

#include <linux/if_ether.h>

#include "base/byteorder.h"

namespace ferry::proto {

struct VlanTag {
  Be16 tci;         // PCP(3) DEI(1) VID(12)
  Be16 ether_type;  // what follows this tag

  uint8_t pcp() const { return static_cast<uint8_t>(tci.value() >> 13); }
  bool dei() const { return (tci.value() & 0x1000) != 0; }
  uint16_t vid() const { return tci.value() & 0x0fff; }
};
static_assert(sizeof(VlanTag) == 4 && alignof(VlanTag) == 1);

// TPIDs announcing a tag: 802.1Q, 802.1ad and the pre-standard 0x9100 still seen in QinQ.
inline constexpr bool is_vlan_tpid(uint16_t ether_type) {
  return ether_type == ETH_P_8021Q || ether_type == ETH_P_8021AD || ether_type == ETH_P_QINQ1;
}

}  // namespace ferry::proto
