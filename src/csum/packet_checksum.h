#pragma once

// Filling and verifying the checksums of a parsed Packet: the IPv4 header checksum and
// the L4 checksum of TCP, UDP, ICMP and ICMPv6 (with the pseudo header where the
// protocol has one), for the outer headers or the inner (tunnelled) ones.
//
// Headers are located by the offsets and the packet type the parser recorded in the
// head; lengths come from the IP headers and are checked against the packet (Ethernet
// padding after the IP datagram is not summed). Chained packets are summed segment by
// segment, whatever the segment lengths. UDP follows RFC 768 / RFC 8200: a computed 0 is
// sent as 0xffff; a received 0 means "no checksum" over IPv4 and is invalid over IPv6.

#include <cstdint>
#include <initializer_list>  // packet.h iterates a braced list

#include "csum/csum_error.h"
#include "packet/packet.h"

namespace ferry::csum {

enum class Layer : uint8_t { kOuter, kInner };

// Where the L4 checksum of one layer is and what it covers.
struct L4Span {
  uint32_t l4_offset = 0;     // from data() of the head
  uint32_t l4_len = 0;        // bytes the checksum covers, header included
  uint32_t field_offset = 0;  // the checksum field, from data() of the head
  uint32_t pseudo_sum = 0;    // the pseudo-header sum (0 for ICMP over IPv4)
  bool is_udp = false;
  bool is_ipv6 = false;
};

// Finds the L4 checksum of `layer`: kNoHeader if there is no IP or L4 header there,
// kUnsupported for protocols without one here, kFragment, kTruncated, kBadLength.
CsumError locate_l4(const Packet& packet, Layer layer, L4Span* span);

// IPv4 header checksum of `layer` (kNoHeader if that layer is not IPv4).
CsumError fill_ipv4_header(Packet& packet, Layer layer = Layer::kOuter);
CsumError verify_ipv4_header(const Packet& packet, Layer layer = Layer::kOuter);

// L4 checksum of `layer`.
CsumError fill_l4(Packet& packet, Layer layer = Layer::kOuter);
CsumError verify_l4(const Packet& packet, Layer layer = Layer::kOuter);

// Every checksum of the packet that Ferry knows: inner L4 and IPv4 header first (the
// outer UDP checksum of a tunnel covers them), then outer. Layers that are absent or
// carry no supported checksum are skipped; the first other error is returned.
CsumError fill_all(Packet& packet);
CsumError verify_all(const Packet& packet);

}  // namespace ferry::csum
