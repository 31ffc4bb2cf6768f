#pragma once

// The packet parser: one pass over the headers of a frame that records where each layer
// starts and what it is. Header views (ethernet.h, ipv4.h, ...) read the fields.

#include <cstdint>
#include <span>

#include "packet/packet.h"
#include "proto/parse_error.h"

namespace ferry::proto {

struct ParseOptions {
  uint8_t max_vlan_tags = 4;        // 802.1Q/802.1ad tags before the EtherType
  uint8_t max_mpls_labels = 8;
  uint8_t max_ipv6_ext_headers = 8;
  bool descend_tunnels = true;      // parse the inner frame of GRE / VXLAN / Geneve
  uint16_t vxlan_port = 4789;
  uint16_t geneve_port = 6081;
};

// Offsets are from the start of the frame; kNoOffset when absent.
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

ParseResult parse_frame(std::span<const uint8_t> frame, const ParseOptions& options = {});

// Parses the head segment of `packet` and records type and offsets in it.
ParseError parse_packet(Packet& packet, const ParseOptions& options = {});

}  // namespace ferry::proto
