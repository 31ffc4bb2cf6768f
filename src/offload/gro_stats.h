#pragma once

// Counters of the GRO engine: every packet that enters GroTable::receive() is counted in
// exactly one of `merged`, `held` or one of the `skip_*` reasons; every held flow leaves
// through exactly one of the `flush_*` reasons. packets_out counts what was handed back.

#include <cstdint>

namespace ferry::offload {

// Why a packet was not considered for merging at all (it is passed on unchanged, after
// any held packet of its flow, so per-flow order is kept).
enum class GroSkip : uint8_t {
  kNotIp,               // no IPv4/IPv6 header where GRO looks
  kNotTcpUdp,           // L4 is neither TCP nor UDP
  kUdpDisabled,         // UDP GRO is off in the config
  kTunnelUnsupported,   // IP-in-IP, MPLS, or a tunnel whose inner packet is not TCP
  kIpOptions,           // IPv4 options (Linux merges only IHL 5)
  kIpv6ExtHeaders,      // IPv6 extension headers
  kFragment,            // IPv4/IPv6 fragment (MF or offset set)
  kBadLength,           // IP/UDP length disagrees with the frame (padding, truncation)
  kHeadersSplit,        // headers do not all lie in the head segment
  kAlreadyGso,          // the packet is a GSO packet already
  kBadIpChecksum,       // an IPv4 header checksum is wrong
  kBadL4Checksum,       // the TCP/UDP checksum (inner or outer) is wrong
  kUnverifiedChecksum,  // kNone state and software verification is off
  kNoPayload,           // TCP segment without data (pure ACK, SYN, ...) or empty UDP
  kFlags,               // TCP SYN/RST/URG/FIN/PSH on a segment that would start a flow
  kUdpZeroChecksum,     // UDP GRO needs a checksum, as Linux does
  kKeyTooLong,          // flow identity (headers, tunnel options) beyond kGroMaxKey bytes
  kCount,
};

// Why a held flow was handed on.
enum class GroFlush : uint8_t {
  kBurstEnd,      // flush() at the end of a burst
  kPsh,           // the merged segment carried PSH
  kFinal,         // the merged segment carried FIN (URG/RST/SYN never merge)
  kShortSegment,  // a segment shorter than the MSS was merged: it is the last
  kSizeLimit,     // the next segment would pass max_size
  kSegmentLimit,  // max_segments reached
  kSeq,           // the next segment is not the next sequence
  kAck,           // different ACK number
  kTcpHeader,     // flags other than CWR/FIN/PSH, data offset or window differ
  kCwr,           // the next segment has CWR
  kOptions,       // TCP options differ (timestamps included, as in Linux)
  kLongSegment,   // the next segment is longer than the MSS, or empty
  kIpFields,      // TTL/TOS/DF (IPv4) or traffic class (IPv6) differ
  kIpId,          // the IPv4 ID does not follow the flow's pattern (incrementing/fixed)
  kUdpLength,     // UDP: a longer datagram, or one after a shorter one
  kTunnel,        // outer headers of a tunnel would not merge
  kOtherPacket,   // a packet of the flow that cannot merge (no payload, flags, bad csum)
  kEvicted,       // the table was full and this was the oldest flow
  kCount,
};

inline constexpr uint32_t kGroSkipCount = static_cast<uint32_t>(GroSkip::kCount);
inline constexpr uint32_t kGroFlushCount = static_cast<uint32_t>(GroFlush::kCount);

const char* to_string(GroSkip reason);
const char* to_string(GroFlush reason);

struct GroStats {
  uint64_t packets_in = 0;     // packets given to receive()
  uint64_t packets_out = 0;    // packets handed back (merged chains count once)
  uint64_t merged = 0;         // segments absorbed into a held packet
  uint64_t held = 0;           // segments that started a flow
  uint64_t coalesced_out = 0;  // flows handed back with 2 or more segments
  uint64_t single_out = 0;     // flows handed back with 1 segment (unchanged)
  uint64_t tcp_merged = 0;     // of merged: TCP
  uint64_t udp_merged = 0;     // of merged: UDP
  uint64_t tunnel_merged = 0;  // of merged: inside VXLAN/Geneve/GRE
  uint64_t skip[kGroSkipCount] = {};
  uint64_t flush[kGroFlushCount] = {};

  template <typename F>
  void for_each_counter(F&& f) const {
    f("packets_in", packets_in);
    f("packets_out", packets_out);
    f("merged", merged);
    f("held", held);
    f("coalesced_out", coalesced_out);
    f("single_out", single_out);
    f("tcp_merged", tcp_merged);
    f("udp_merged", udp_merged);
    f("tunnel_merged", tunnel_merged);
    for (uint32_t i = 0; i < kGroSkipCount; i++)
      f(skip_names_[i], skip[i]);
    for (uint32_t i = 0; i < kGroFlushCount; i++)
      f(flush_names_[i], flush[i]);
  }

  static const char* skip_name(uint32_t i) { return skip_names_[i]; }
  static const char* flush_name(uint32_t i) { return flush_names_[i]; }

 private:
  static const char* const skip_names_[kGroSkipCount];
  static const char* const flush_names_[kGroFlushCount];
};

}  // namespace ferry::offload
