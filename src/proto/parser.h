#pragma once

// The packet parser: one pass over the headers of a frame that records where each layer
// starts and what it is. Header views (ethernet.h, ipv4.h, ...) read the fields.

#include <cstdint>
#include <span>

#include "packet/packet.h"
#include "proto/parse_error.h"

namespace ferry::proto {

// A chained packet whose head segment holds fewer header bytes than the parser needs is
// parsed from a copy of its first kMaxChainedHeaderBytes bytes on the stack.
inline constexpr uint32_t kMaxChainedHeaderBytes = 512;

struct ParseOptions {
  uint8_t max_vlan_tags = 4;  // 802.1Q/802.1ad tags before the EtherType
  uint8_t max_mpls_labels = 8;
  uint8_t max_ipv6_ext_headers = 8;
  bool descend_tunnels = true;  // parse the inner frame of GRE / VXLAN / Geneve / IP-in-IP
  uint16_t vxlan_port = 4789;
  uint16_t geneve_port = 6081;
};

// Offsets are from the start of the frame; kNoOffset when absent. Conventions:
//  - ARP: l2 kEtherArp, l3 kOther at the ARP header. MPLS: l2 kEtherMpls (tags before the
//    stack are not reflected in the type), l3 after the bottom of the stack.
//  - GRE: l4 kOther at the GRE header, tunnel kGre. VXLAN/Geneve: l4 kUdp. IP-in-IP: no
//    L4, tunnel kIpInIp, inner_l3 right after the outer IP header.
//  - Inner Ethernet (VXLAN, Geneve or GRE with ETH_P_TEB) sets inner_l2; an inner IP
//    packet carried directly (GRE, Geneve, IP-in-IP) has no inner_l2.
//  - headers_len: end of the deepest header parsed (TCP options and, for neighbour
//    discovery, the fixed NS/NA part included).
struct ParseResult {
  ParseError error = ParseError::kOk;
  PacketType type;
  uint16_t l3_offset = kNoOffset;
  uint16_t l4_offset = kNoOffset;
  uint16_t inner_l2_offset = kNoOffset;
  uint16_t inner_l3_offset = kNoOffset;
  uint16_t inner_l4_offset = kNoOffset;
  uint16_t headers_len = 0;  // bytes of headers parsed (the payload starts here)
  bool ok() const { return error == ParseError::kOk; }
};

// Parses one frame. On success the result holds the type and offsets of every layer found
// (outer L2/L3/L4, tunnel, and one level of inner L2/L3/L4); on failure only `error` is
// set (type empty, offsets kNoOffset). Never reads outside `frame`.
//
// What is accepted: Ethernet, up to max_vlan_tags 802.1Q/802.1ad tags, then ARP, IPv4,
// IPv6 (extension headers up to max_ipv6_ext_headers), MPLS (up to max_mpls_labels, then
// IPv4/IPv6 by the version nibble), TCP, UDP, ICMP, ICMPv6, SCTP; with descend_tunnels,
// VXLAN, Geneve, GRE (version 0) and IP-in-IP, whose inner frame is parsed the same way but
// without descending into a further tunnel. Anything else (other EtherTypes, LLC, GTP-U,
// PPTP's GRE version 1, IPv6 ESP) is accepted with the deepest known layer set.
// Non-first fragments have L4 kFragment and no L4 offset.
ParseResult parse_frame(std::span<const uint8_t> frame, const ParseOptions& options = {});

// Parses `packet` (possibly chained) and records type and offsets in its head; on failure
// the type is cleared and the offsets are kNoOffset. Headers that continue past the head
// segment are read from a bounded stack copy of the chain (kMaxChainedHeaderBytes).
ParseError parse_packet(Packet& packet, const ParseOptions& options = {});

}  // namespace ferry::proto
