#pragma once

// Internals of the GSO engine shared by its handler files (not a public header).
//
// segment() first copies the headers of the input into a template (so chained inputs
// whose headers straddle segments are handled once) and fills a GsoPlan; then, per
// segment, it copies the template and the payload slice into fresh buffers and asks the
// handlers to rewrite their headers in place. The headers always sit in the first buffer
// of a segment, so handlers write them with plain pointers.

#include <cstdint>

#include "csum/raw_sum.h"
#include "offload/gso.h"
#include "packet/packet.h"

namespace ferry::offload::detail {

inline constexpr uint32_t kMaxGsoHeaderLen = 512;
inline constexpr uint32_t kUdpHeaderBytes = 8;

struct GsoPlan;

// What is known about one output segment when handlers run.
struct SegmentInfo {
  Packet* pkt;           // the segment (headers in its first buffer)
  uint32_t index;        // 0-based
  uint32_t count;        // segments in total
  uint32_t offset;       // offset of this slice in the input's payload
  uint32_t payload_len;  // bytes of payload in this segment
  uint32_t len;          // bytes of the whole segment
  uint32_t payload_sum;  // raw sum of the payload bytes (as if starting at an even offset)
  uint32_t l4_sum;       // set by the L4 handler: raw sum of the final L4 header + payload
                         // (what an outer checksum over it needs; LCO)
  bool first() const { return index == 0; }
  bool last() const { return index + 1 == count; }
};

// How the segmented layer's L4 protocol is cut (TCP, UDP L4, UDP fragmentation).
struct L4Handler {
  uint16_t gso_bit;
  // Checks the L4 header in the template and sets hdr_len, extra_len, mss.
  GsoError (*plan)(GsoPlan& plan);
  // Rewrites the segmented layer (IP and L4) of one segment.
  void (*fixup)(const GsoPlan& plan, SegmentInfo& seg);
  bool needs_payload_sum;  // in kFill mode the handler wants SegmentInfo::payload_sum
};

// How the outer headers of a tunnel are rewritten (VXLAN/Geneve UDP, GRE).
struct TunnelHandler {
  uint16_t gso_bit;
  // Checks the outer headers in the template.
  GsoError (*plan)(GsoPlan& plan);
  // Rewrites the outer L4/tunnel header (not the outer IP header) after the inner fixup.
  void (*fixup)(const GsoPlan& plan, SegmentInfo& seg);
};

struct GsoPlan {
  const GsoConfig* config;
  const Packet* in;
  uint8_t tmpl[kMaxGsoHeaderLen];  // the input's first bytes (headers)
  uint32_t tmpl_len;               // valid bytes in tmpl
  uint32_t in_len;                 // readable bytes of the input
  uint16_t gso_type;
  uint32_t gso_size;

  // Layers. The segmented layer is the inner one in a tunnel, else the only one.
  uint16_t l3, l4;              // segmented layer
  bool v4;                      // segmented layer is IPv4
  uint16_t outer_l3, outer_l4;  // kNoOffset without a tunnel
  bool outer_v4;
  bool tunnel;

  // Set by the handlers' plan().
  uint32_t hdr_len = 0;    // template bytes copied in front of every segment
  uint32_t extra_len = 0;  // bytes the handler inserts after them (IPv6 fragment header)
  uint32_t mss = 0;        // payload bytes per segment
  uint32_t payload_len = 0;
  bool partial_csum = false;                 // leave the segmented layer's L4 checksum kPartial
  bool gso_partial = false;                  // kGsoPartial
  bool reparse = false;                      // set offsets/type by parsing each segment (fragments)
  uint16_t outer_csum_state_l4 = kNoOffset;  // kGsoPartial: outer UDP left kPartial here
  uint16_t src_port = 0;                     // outer UDP source port to write (0: keep)
  uint32_t frag_id = 0;                      // UFO over IPv6
  uint32_t ufo_udp_check = 0;  // UFO: the datagram's UDP checksum field (memory order)

  // IPv4 headers (segmented and outer layer): the header sum without the checksum, total
  // length and ID fields, and the input's ID, so a segment's header checksum is arithmetic
  // on registers instead of a re-read of bytes just stored.
  uint32_t ip_base = 0, outer_ip_base = 0;
  uint16_t ip_id0 = 0, outer_ip_id0 = 0;
  // Pseudo-header sums without the length (segmented layer's L4 protocol; outer UDP).
  uint32_t pseudo0 = 0, outer_pseudo0 = 0;

  const L4Handler* l4_handler = nullptr;
  const TunnelHandler* tunnel_handler = nullptr;
};

// Handler tables (defined in gso_tcp.cc, gso_udp.cc, gso_tunnel.cc).
extern const L4Handler kTcpHandler;
extern const L4Handler kUdpL4Handler;
extern const L4Handler kUfoHandler;
extern const TunnelHandler kUdpTunnelHandler;
extern const TunnelHandler kGreHandler;

// Rewrites the IP header at `l3` of a segment of `seg_len` bytes: IPv4 total length, ID
// and header checksum (from `base`, see GsoPlan::ip_base); IPv6 payload length.
void fixup_ip(uint8_t* frame, uint16_t l3, bool v4, uint32_t seg_len, uint16_t id, uint32_t base);

// GsoPlan::ip_base of the IPv4 header at `h` (header_len bytes).
uint32_t ipv4_base_sum(const uint8_t* h);

// The pseudo-header sum of the IP header at `l3` for an L4 length.
uint32_t pseudo_sum(const uint8_t* frame, uint16_t l3, bool v4, uint8_t proto, uint32_t l4_len);

// A pseudo-header sum from its length-less part (GsoPlan::pseudo0): the length enters as
// a 16-bit (IPv4) or 32-bit (IPv6) big-endian field.
inline uint32_t pseudo_with_len(uint32_t base, bool v4, uint32_t l4_len) {
  return csum::add(base, v4 ? uint32_t{__builtin_bswap16(static_cast<uint16_t>(l4_len))}
                            : __builtin_bswap32(l4_len));
}

}  // namespace ferry::offload::detail
