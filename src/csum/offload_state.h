#pragma once

// Conversions between the checksum offload states of a Packet (see packet.h):
//
//   kPartial  --finish_partial-->  kNone (checksum written)
//   kNone     --make_complete--->  kComplete (sum of the bytes from a start offset)
//   kComplete --verify_l4_complete: L4 checked without re-reading the payload
//   any       --mark_unnecessary->  kUnnecessary (after verifying every checksum)
//   kNone     --to_partial------->  kPartial (pseudo-header sum in the field, for a port
//                                    or guest that finishes the checksum itself)
//
// csum_start/csum_offset of a kPartial packet come from guests (virtio NEEDS_CSUM) and
// are hostile: every function checks them against the data in the chain and rejects
// impossible ones with a reason, never reading or writing outside the packet.

#include <cstdint>
#include <initializer_list>  // packet.h iterates a braced list

#include "csum/csum_error.h"
#include "csum/packet_checksum.h"
#include "packet/packet.h"

namespace ferry::csum {

// Whether the csum_start/csum_offset of a kPartial packet lie inside it: kOk,
// kCsumStartBeyondEnd, kCsumFieldBeyondEnd.
CsumError check_partial(const Packet& packet);

// Computes the checksum of a kPartial packet: the sum of the bytes from csum_start to
// the end (the field holds the pseudo-header sum) is stored at csum_start + csum_offset,
// 0 as 0xffff (both verify alike; for UDP 0 would mean "none"). The state becomes kNone.
CsumError finish_partial(Packet& packet);

// Records the folded sum of the bytes from `start` to the end of the packet as
// kComplete (the packet must not be kPartial: its checksum field is not final).
CsumError make_complete(Packet& packet, uint16_t start);

// Verifies the L4 checksum of `layer` of a kComplete packet from csum_value(): only the
// bytes between csum_start and the L4 header, any padding after the L4 data and the
// checksum field of UDP are read. kCsumStartAfterL4 if the sum does not cover the L4
// header (verify_l4 then).
CsumError verify_l4_complete(const Packet& packet, Layer layer = Layer::kOuter);

// Verifies the IPv4 header and L4 checksums, outer and (for a tunnel) inner, using the
// kComplete sum where it covers them, and marks the packet kUnnecessary, with
// kFlagCsumLevelInner when the inner L4 checksum was verified too. A kPartial packet
// is refused (kBadState); on any error the state is left as it was.
CsumError mark_unnecessary(Packet& packet);

// Prepares the L4 checksum of `layer` to be finished by someone else: the field gets the
// folded pseudo-header sum and the packet becomes kPartial with csum_start at the L4
// header. The L4 data must run to the end of the packet (kBadLength otherwise).
CsumError to_partial(Packet& packet, Layer layer = Layer::kOuter);

}  // namespace ferry::csum
