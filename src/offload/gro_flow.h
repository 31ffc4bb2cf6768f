#pragma once

// Internals of GroTable shared by its per-protocol handlers (gro_ip.cc, gro_tcp.cc,
// gro_udp.cc, gro_tunnel.cc): the view GRO takes of one packet and the state of a flow.

#include <cstdint>

#include "offload/gro.h"
#include "offload/gro_stats.h"
#include "packet/packet.h"

namespace ferry::offload {

// Largest flow identity in bytes (headers of a tunnelled IPv6 packet with Geneve options).
inline constexpr uint32_t kGroMaxKey = 192;

enum class GroL4 : uint8_t { kTcp, kUdp };

// How the IPv4 IDs of a flow's segments relate (decided on the second segment).
enum class GroIdMode : uint8_t { kUndecided, kIncrement, kFixed };

// What GRO found in one packet. Offsets are from data() of the head segment, which holds
// every header (checked by classify).
struct GroSegment {
  Packet* pkt = nullptr;
  TunnelType tunnel = TunnelType::kNone;
  GroL4 proto = GroL4::kTcp;
  bool v6 = false;              // the merged layer is IPv6
  bool outer_v6 = false;        // tunnels: the outer layer is IPv6
  bool outer_udp_csum = false;  // VXLAN/Geneve: outer UDP checksum is non-zero
  bool gre_csum = false;        // GRE: checksum present
  uint8_t tcp_flags = 0;
  uint16_t outer_l3 = kNoOffset;  // tunnels: outer IP header
  uint16_t outer_l4 = kNoOffset;  // tunnels: outer UDP or GRE header
  uint16_t l3 = kNoOffset;        // IP header of the merged layer
  uint16_t l4 = kNoOffset;        // TCP/UDP header of the merged layer
  uint16_t payload = 0;           // first payload byte
  uint32_t payload_len = 0;
  uint32_t frame_len = 0;  // chain_length() of the packet
  uint32_t hash = 0;
  uint32_t key_len = 0;
  alignas(8) uint8_t key[kGroMaxKey + 8];  // + slack for padding stores
};

// Whether two padded keys of len bytes (a multiple of 8) are equal.
inline bool gro_key_equal(const uint8_t* a, const uint8_t* b, uint32_t len) {
  uint64_t diff = 0;
  for (uint32_t i = 0; i < len; i += 8) {
    uint64_t x, y;
    __builtin_memcpy(&x, a + i, 8);
    __builtin_memcpy(&y, b + i, 8);
    diff |= x ^ y;
  }
  return diff == 0;
}

struct GroFlow {
  Packet* head = nullptr;
  Packet* tail = nullptr;  // last segment of head's chain
  int32_t bucket_next = -1;
  int32_t older = -1;  // creation order list
  int32_t newer = -1;
  uint32_t hash = 0;
  uint32_t key_len = 0;
  uint32_t next_seq = 0;   // TCP: sequence number the next segment must carry
  uint32_t total_len = 0;  // bytes from the outermost IP header to the end
  uint16_t count = 0;      // segments merged so far (1 = only the head)
  uint16_t mss = 0;        // payload of the first segment
  uint16_t ip_id = 0;      // IPv4 ID of the first segment (merged layer)
  uint16_t outer_ip_id = 0;
  GroIdMode id_mode = GroIdMode::kUndecided;
  GroL4 proto = GroL4::kTcp;
  TunnelType tunnel = TunnelType::kNone;
  bool v6 = false;
  bool outer_v6 = false;
  bool outer_udp_csum = false;
  bool gre_csum = false;
  uint16_t outer_l3 = kNoOffset;
  uint16_t outer_l4 = kNoOffset;
  uint16_t l3 = kNoOffset;
  uint16_t l4 = kNoOffset;
  alignas(8) uint8_t key[kGroMaxKey];
};

// Marker for "the checks passed" where a GroFlush reason is returned.
inline constexpr GroFlush kGroMergeOk = GroFlush::kCount;

// --- classification (gro_classify.cc) -------------------------------------------------
// Fills s from a parsed packet: offsets, lengths, flags and the flow key. kCount if the
// packet may be merged; else why not. *keyed tells whether s.key/hash were built, so
// that a held packet of the same flow can be pushed out first.
GroSkip gro_classify(Packet& pkt, const GroConfig& config, GroSegment* s, bool* keyed);
// Whether the L4 checksum(s) of s are known good (verifying in software where allowed).
GroSkip gro_check_checksums(const GroSegment& s, const GroConfig& config);

// --- per-layer merge checks: kGroMergeOk or the reason to flush the flow ---------------
// IPv4 of one layer: TTL, TOS, DF and the ID pattern (mode shared by the layers).
GroFlush gro_ipv4_check(const uint8_t* held, const uint8_t* seg, uint16_t first_id, uint16_t count,
                        GroIdMode* mode);
// IPv6: traffic class, flow label, hop limit (addresses are in the flow key).
GroFlush gro_ipv6_check(const uint8_t* held, const uint8_t* seg);
GroFlush gro_tcp_check(const GroFlow& f, const uint8_t* held_tcp, const GroSegment& s);
GroFlush gro_udp_check(const GroFlow& f, const GroSegment& s);

// --- completion: rewrite a merged packet as Linux's *_gro_complete do -------------------
void gro_ip_complete(Packet& head, uint16_t l3, bool v6);
void gro_l4_complete(GroFlow& f);

}  // namespace ferry::offload
