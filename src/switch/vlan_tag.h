#pragma once

// Pushing and popping the outer VLAN tag of a Packet in place. The tag sits after the
// MAC addresses, so both move the 12 address bytes by 4 within the head segment's
// headroom; the rest of the frame stays where it is. Offsets, the packet type's L2 field
// and the checksum start move with the frame; a CHECKSUM_COMPLETE sum that covered the
// tag is dropped (kNone), as it no longer matches the bytes.

#include <cstdint>

#include "packet/packet.h"

namespace ferry::sw {

// The outer tag of a frame: TPID at bytes 12-13, TCI at 14-15.
struct OuterTag {
  uint16_t tpid = 0;  // 0 if the frame is shorter than a tagged header
  uint16_t tci = 0;
};
OuterTag read_outer_tag(const Packet& packet);

// Removes the outer tag (4 bytes after the MACs); false if the head segment is too short.
bool pop_vlan_tag(Packet& packet);
// Inserts a tag with this TPID and TCI after the MACs; false without 4 bytes of headroom
// or with a head segment shorter than 14 bytes.
bool push_vlan_tag(Packet& packet, uint16_t tpid, uint16_t tci);

}  // namespace ferry::sw
