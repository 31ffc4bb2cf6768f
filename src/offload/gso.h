#pragma once

// GSO: segmentation offload in software (TSO, USO, UFO, and the same inside VXLAN,
// Geneve and GRE), with the semantics of Linux's skb_gso_segment().
//
// Input: a parsed packet (proto::parse_packet) whose gso_type()/gso_size() say how to cut
// it. gso_size() is the payload per segment: the TCP MSS for TSO, the UDP payload per
// datagram for USO, and the bytes of the original UDP datagram (header included) per
// IP fragment for UFO (rounded down to a multiple of 8). The packet may be chained; it is
// read with the chain walkers, never linearised.
//
// Output: new packets from the engine's BufferPool. Each segment gets a copy of the
// headers (rewritten per segment) followed by a copy of its slice of the payload; a
// segment larger than one buffer continues in further buffers of the pool (a chain).
// Payload is copied rather than attached: a Packet has no reference count, so one input
// buffer cannot be shared by several output segments and freed once. The copy runs
// together with the checksum of the slice, so filling checksums costs no extra pass.
//
// Per segment: IPv4 total length, ID (incremented per segment, or equal everywhere with
// kGsoTcpFixedId) and header checksum; IPv6 payload length; TCP sequence number, PSH and
// FIN only on the last segment, CWR only on the first; UDP length; for tunnels also the
// outer IP header, the outer UDP length and checksum (filled, from the inner one without
// reading the payload again, or zero) and the GRE checksum. The L4 checksum is filled
// (GsoCsumMode::kFill; segments are then kUnnecessary) or left kPartial with the
// pseudo-header sum in the field for a next hop that finishes it (kPartial).
//
// kGsoPartial (Linux GSO_PARTIAL): the inner packet is segmented as usual, but the outer
// headers are copied with only their lengths (and the IPv4 header checksum) changed: the
// outer IPv4 ID stays the same and a present outer UDP checksum is left kPartial (the
// inner L4 checksum is then always filled), for a peer that finishes the outer part.
//
// Segmentation kinds are handlers (gso_tcp.cc, gso_udp.cc) and so are tunnel kinds
// (gso_tunnel.cc): a new protocol is a new table entry, not a new branch in the loop.

#include <array>
#include <cstdint>

#include "packet/buffer_pool.h"
#include "packet/packet.h"

namespace ferry::offload {

// Why a packet could not be segmented. Every reason is counted (GsoStats::rejected).
enum class GsoError : uint8_t {
  kOk = 0,
  kNotGso,             // gso_type() is kGsoNone (segment() only; bursts pass it through)
  kZeroGsoSize,        // gso_size() is 0
  kBadGsoType,         // not exactly one of TCPv4/TCPv6/UDP/UDP_L4, or unknown bits
  kNotParsed,          // no L3/L4 offsets: the packet was not parsed or did not parse
  kTypeMismatch,       // gso_type does not match the headers (TCPv4 on IPv6, tunnel bits...)
  kHeadersBeyondData,  // the headers end past the data of the packet
  kHeadersTooLong,     // the headers do not fit the engine's header limit or one buffer
  kNoPayload,          // nothing after the headers
  kGsoSizeTooSmall,    // UFO: gso_size below one 8-byte fragment unit
  kSegmentTooLarge,    // one segment would exceed 65535 bytes of IP datagram
  kTooManySegments,    // more segments than GsoConfig::max_segments
  kUnsupported,        // well formed but not handled (IPv4 options or IPv6 extension
                       // headers with UFO, GRE sequence numbers, UFO in a tunnel, RCO)
  kOutputFull,         // the output array cannot hold every segment
  kNoBuffers,          // the pool ran out (nothing output for that packet)
  kCount,
};

const char* to_string(GsoError error);

enum class GsoCsumMode : uint8_t {
  kFill,     // every checksum computed; segments are kUnnecessary
  kPartial,  // L4 checksum left kPartial (pseudo-header sum in the field)
};

struct GsoConfig {
  GsoCsumMode csum_mode = GsoCsumMode::kFill;
  // Inputs that would make more segments are rejected (a gso_size of 1 on 64 KB).
  uint32_t max_segments = 256;
  // Rewrite the outer UDP source port of VXLAN/Geneve from the inner flow's hash (as
  // udp_flow_src_port() does at encapsulation); off: keep the input's port.
  bool outer_src_port_from_hash = false;
  uint16_t src_port_min = 32768;
  uint16_t src_port_max = 60999;
  // First IPv6 fragment identification for UFO (incremented per datagram).
  uint32_t ipv6_frag_id = 1;
};

struct GsoStats {
  uint64_t packets = 0;          // packets given to the engine
  uint64_t passed = 0;           // not GSO: output unchanged
  uint64_t segmented = 0;        // GSO packets cut into segments
  uint64_t segments = 0;         // segments output
  uint64_t single_segment = 0;   // GSO packets whose payload fit one segment
  uint64_t chained_inputs = 0;   // segmented packets that were chains
  uint64_t chained_outputs = 0;  // segments that needed more than one buffer
  std::array<uint64_t, static_cast<size_t>(GsoError::kCount)> rejected{};

  template <typename F>
  void for_each_counter(F&& f) const {
    f("packets", packets);
    f("passed", passed);
    f("segmented", segmented);
    f("segments", segments);
    f("single_segment", single_segment);
    f("chained_inputs", chained_inputs);
    f("chained_outputs", chained_outputs);
    for (size_t i = 1; i < rejected.size(); i++) {
      f(reject_names_[i], rejected[i]);
    }
  }

 private:
  static const char* const reject_names_[static_cast<size_t>(GsoError::kCount)];
};

class GsoEngine {
 public:
  GsoEngine(BufferPool& pool, const GsoConfig& config = {}) : pool_(pool), config_(config) {}

  // Segments one packet into out[0..*n_out) without consuming it. On error nothing is
  // output (segments already built are freed) and the reason is counted and returned.
  GsoError segment(const Packet& in, Packet** out, uint32_t capacity, uint32_t* n_out);

  // Burst form: non-GSO packets are passed to out unchanged; GSO packets are replaced by
  // their segments and freed; packets that cannot be segmented are freed and counted.
  // Returns the number of packets written to out (at most capacity).
  uint32_t segment_burst(Packet** pkts, uint32_t n, Packet** out, uint32_t capacity);

  const GsoStats& stats() const { return stats_; }
  const GsoConfig& config() const { return config_; }
  void set_csum_mode(GsoCsumMode mode) { config_.csum_mode = mode; }

 private:
  GsoError segment_impl(const Packet& in, Packet** out, uint32_t capacity, uint32_t* n_out);

  BufferPool& pool_;
  GsoConfig config_;
  GsoStats stats_;
};

}  // namespace ferry::offload
