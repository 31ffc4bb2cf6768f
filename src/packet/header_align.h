#pragma once

// Keeping network headers 4-byte aligned across encapsulation and decapsulation.
//
// A fresh packet has data() 2 bytes past a 4-byte boundary (kDefaultHeadroom = 128 + 2),
// so the IP header behind the 14-byte Ethernet header is aligned. Tunnels break that:
// the encapsulated frame starts with its own 14-byte Ethernet header, while the outer
// headers are whole multiples of 4 (IPv4 20, IPv6 40, UDP 8, VXLAN 8, Geneve 8 + 4k,
// GRE 4 + 4k). Outer Ethernet + IPv4 + UDP + VXLAN is 50 bytes, so the inner IP header
// sits 50 + 14 = 64 bytes from the frame start while the outer one is at 14: the two
// differ by 50, which is 2 modulo 4, and at most one of them can be aligned. Pushing such a
// header in front of an aligned inner frame misaligns the new outer IP header; stripping
// it from an aligned outer frame misaligns the inner one. (GRE carrying IP directly,
// without an inner Ethernet header, keeps both aligned: 14 + 20 + 4 = 38 and 38 + 0 - 14
// is a multiple of 4.)
//
// The fix is to move the head segment's bytes by 2 (memmove into the headroom or the
// tailroom). Offsets are relative to data(), so they stay valid. Only the head moves: with
// header/data split (SplitPacketAllocator) the head holds just the headers, so a
// realignment costs a memmove of a few dozen bytes and never touches the payload; with a
// single 2 KiB buffer it moves the whole frame, which is still cheaper than unaligned
// access on strict CPUs but is counted so that the cost is visible.

#include <cstdint>

#include "packet/packet.h"

namespace ferry {

inline constexpr uint32_t kNetworkHeaderAlign = 4;

// Counters for one worker (plain integers, owned by the caller).
struct AlignStats {
  uint64_t realigned = 0;    // head segments moved to align a header
  uint64_t bytes_moved = 0;  // bytes memmoved doing so
  uint64_t no_room = 0;      // misaligned, but neither headroom nor tailroom had the room
  uint64_t not_in_head = 0;  // the header starts past the head segment (left alone)
};

enum class AlignResult : uint8_t {
  kAligned,    // already aligned, nothing moved
  kRealigned,  // the head segment was moved
  kNoHeader,   // offset is kNoOffset
  kNotInHead,  // the header does not start in the head segment
  kNoRoom,     // misaligned and could not move (left as is; still correct, only slower)
};

// Aligns the header at `offset` (relative to data()) to kNetworkHeaderAlign by moving the
// head segment towards the side with more room.
AlignResult align_header_at(Packet& pkt, uint16_t offset, AlignStats& stats);
// align_header_at(pkt, pkt.l3_offset(), stats).
inline AlignResult align_network_header(Packet& pkt, AlignStats& stats) {
  return align_header_at(pkt, pkt.l3_offset(), stats);
}

// Encapsulation: grows the head segment at the front by n bytes for outer headers whose
// IP header will be at outer_l3_offset from the new data(), first moving the existing
// bytes if needed so that header is aligned. Returns the new data() for the caller to
// write the n header bytes, or nullptr (nothing changed) if the headroom is short of n.
// Recorded offsets are shifted by n, so they still locate the same (now inner) bytes.
uint8_t* push_front(Packet& pkt, uint16_t n, uint16_t outer_l3_offset, AlignStats& stats);

// Decapsulation: removes n bytes from the front of the head segment, then aligns the header
// at new_l3_offset (relative to the new data()). Offsets into the removed bytes become
// kNoOffset, the others shift by -n; a kPartial/kComplete csum_start() inside the removed
// bytes makes the checksum state kNone. False (nothing changed) if the head segment holds
// fewer than n bytes.
bool strip_front(Packet& pkt, uint16_t n, uint16_t new_l3_offset, AlignStats& stats);

}  // namespace ferry
