#pragma once

// Tunnels: encapsulating Ethernet frames in VXLAN, Geneve or GRE (over IPv4 or IPv6) and
// decapsulating them, with the checksum offloads that tunnels make cheap or possible:
//
//  - Local checksum offload (LCO): when the inner L4 checksum is still kPartial, the
//    bytes from its csum_start to the end will sum to the complement of the pseudo-header
//    sum in its field once it is finished. An outer checksum (UDP, GRE) over those bytes
//    is therefore computed from the headers alone, without reading the payload.
//  - Remote checksum offload (RCO) for VXLAN, as Linux implements it (VXLAN_F_REMCSUM_*):
//    the sender leaves the inner checksum unfinished (its field holds the pseudo-header
//    sum), sets the RCO flag (0x00200000) in the VXLAN flags and encodes where it is in
//    the low byte of the VNI word: bits 0-6 the checksum start, in 2-byte units, counted
//    from the start of the inner Ethernet header; bit 7 set when the checksum field is at
//    offset 6 (UDP), clear for offset 16 (TCP). The receiver finishes the inner checksum
//    from that; with a kComplete packet it does so without reading the payload.
//
// Encapsulation pushes the outer headers into the headroom with push_front() (which keeps
// the new outer IP header 4-byte aligned); decapsulation strips them with strip_front()
// (which realigns the inner one). Packets must be parsed (proto::parse_packet) before
// either; both leave the packet's offsets and type correct for the result.

#include <array>
#include <cstdint>

#include "csum/csum_error.h"
#include "packet/header_align.h"
#include "packet/packet.h"
#include "proto/ethernet.h"
#include "proto/ipv6.h"

namespace ferry::offload {

enum class TunnelKind : uint8_t { kVxlan, kGeneve, kGre };

struct TunnelConfig {
  TunnelKind kind = TunnelKind::kVxlan;
  bool ipv6 = false;  // outer IPv6 (else IPv4)
  proto::MacAddress src_mac;
  proto::MacAddress dst_mac;
  std::array<uint8_t, 4> src_ip4{};
  std::array<uint8_t, 4> dst_ip4{};
  proto::Ipv6Address src_ip6;
  proto::Ipv6Address dst_ip6;
  uint32_t vni = 0;               // VXLAN / Geneve (24 bits)
  bool gre_key = false;           // GRE: carry `vni` as the key
  bool gre_csum = false;          // GRE: checksum present
  bool udp_csum = true;           // VXLAN / Geneve: outer UDP checksum filled (else zero)
  uint16_t dst_port = 0;          // 0: 4789 for VXLAN, 6081 for Geneve
  uint16_t src_port_min = 32768;  // source port range (Linux ip_local_port_range)
  uint16_t src_port_max = 60999;
  uint8_t ttl = 64;
  uint8_t tos = 0;
  bool df = true;       // IPv4 don't-fragment
  bool rco_tx = false;  // VXLAN: send kPartial packets with remote checksum offload
  bool rco_rx = true;   // VXLAN: honour the RCO flag when decapsulating
};

enum class TunnelError : uint8_t {
  kOk = 0,
  kNotParsed,      // no L2/L3 offsets
  kNotEthernet,    // encap: the frame has no Ethernet header
  kAlreadyTunnel,  // encap: the packet is tunnelled already (one level only)
  kNoHeadroom,     // encap: not enough headroom for the outer headers
  kTooLong,        // encap: the result would exceed 65535 bytes of IP datagram
  kNotTunnel,      // decap: not a VXLAN / Geneve / GRE packet
  kTruncated,      // decap: headers past the data
  kRcoBadState,    // RCO send: not kPartial, or not VXLAN
  kRcoBadStart,    // RCO: start odd, too far, or before the inner frame
  kRcoBadOffset,   // RCO: checksum offset neither 6 (UDP) nor 16 (TCP), or past the end
  kChecksum,       // a checksum could not be computed (see csum::CsumError)
  kInnerParse,     // decap: the inner frame does not parse
  kCount,
};

const char* to_string(TunnelError error);

struct TunnelStats {
  uint64_t encapsulated = 0;
  uint64_t decapsulated = 0;
  uint64_t outer_csum_lco = 0;   // outer checksums computed from a kPartial inner one
  uint64_t outer_csum_full = 0;  // outer checksums that read the whole packet
  uint64_t rco_sent = 0;
  uint64_t rco_received = 0;
  uint64_t rco_complete = 0;  // RCO finished from a kComplete sum (payload not read)
  std::array<uint64_t, static_cast<size_t>(TunnelError::kCount)> errors{};
  AlignStats align;

  template <typename F>
  void for_each_counter(F&& f) const {
    f("encapsulated", encapsulated);
    f("decapsulated", decapsulated);
    f("outer_csum_lco", outer_csum_lco);
    f("outer_csum_full", outer_csum_full);
    f("rco_sent", rco_sent);
    f("rco_received", rco_received);
    f("rco_complete", rco_complete);
    for (size_t i = 1; i < errors.size(); i++)
      f(error_names_[i], errors[i]);
    f("realigned", align.realigned);
    f("realign_bytes_moved", align.bytes_moved);
    f("realign_no_room", align.no_room);
  }

 private:
  static const char* const error_names_[static_cast<size_t>(TunnelError::kCount)];
};

class Tunnel {
 public:
  explicit Tunnel(const TunnelConfig& config) : config_(config) {}

  // Encapsulates a parsed Ethernet frame. Checksums: the outer IPv4 header is filled; the
  // outer UDP (or GRE) checksum, when on, is computed with LCO if the inner L4 checksum
  // is kPartial (which it stays, or it is sent with RCO if rco_tx), else over the packet.
  // A GSO packet gets the tunnel GSO bits instead, so that GSO fills the outer checksums
  // per segment. Offsets and type describe outer and inner layers afterwards.
  TunnelError encap(Packet& pkt);

  // Strips the outer headers of a parsed VXLAN / Geneve / GRE packet (GRE carrying IP
  // gets an Ethernet header made from the outer one), finishing the inner checksum first
  // if the VXLAN header asks for RCO, then re-parses. Offload state: kPartial and kComplete
  // are kept (a kComplete sum is reduced by the stripped bytes); kUnnecessary stays only
  // if it covered the inner level; the tunnel GSO bits are cleared.
  TunnelError decap(Packet& pkt);

  // Burst forms: failures are freed and counted; the rest go to out (in order).
  uint32_t encap_burst(Packet** pkts, uint32_t n, Packet** out);
  uint32_t decap_burst(Packet** pkts, uint32_t n, Packet** out);

  const TunnelStats& stats() const { return stats_; }
  const TunnelConfig& config() const { return config_; }

 private:
  TunnelError count(TunnelError e) {
    if (e != TunnelError::kOk) stats_.errors[static_cast<size_t>(e)]++;
    return e;
  }

  TunnelConfig config_;
  TunnelStats stats_;
  uint16_t ip_id_ = 0;
};

// A hash of the flow of the packet's innermost parsed L3/L4 (addresses, protocol,
// ports); the packet's RSS hash when it has one (as Linux uses skb_get_hash()).
uint32_t inner_flow_hash(const Packet& pkt);

// The outer UDP source port for a flow hash, as Linux's udp_flow_src_port(): the hash is
// folded (hash ^ hash << 16) and scaled into [min, max).
uint16_t udp_flow_src_port(uint32_t hash, uint16_t min, uint16_t max);

// LCO: the raw sum of the bytes [from, end) of a kPartial packet as they will be once
// its checksum is finished (from <= csum_start), reading only [from, csum_start).
csum::CsumError lco_sum(const Packet& pkt, uint32_t from, uint32_t* sum);

// LCO: fills the outer UDP checksum of a tunnelled kPartial packet from the inner
// partial checksum without reading the payload. The packet stays kPartial.
csum::CsumError lco_fill_outer_udp(Packet& pkt);

// RCO send (VXLAN): records the kPartial inner checksum's start and offset in the VXLAN
// header and sets the RCO flag; the inner field keeps the pseudo-header sum and the
// packet becomes kNone. Call before the outer UDP checksum is computed.
TunnelError rco_encode(Packet& pkt);

// RCO receive (VXLAN): if the RCO flag is set, finishes the inner checksum at the
// encoded place (from the kComplete sum when it covers it, which is then adjusted; else
// by summing the inner bytes). kOk without the flag too; *applied says which.
TunnelError rco_decode(Packet& pkt, bool* applied = nullptr);

// VXLAN RCO bits (Linux VXLAN_HF_RCO, VXLAN_RCO_MASK, VXLAN_RCO_UDP, VXLAN_RCO_SHIFT).
inline constexpr uint32_t kVxlanFlagRco = 0x00200000;
inline constexpr uint32_t kVxlanRcoStartMask = 0x7f;
inline constexpr uint32_t kVxlanRcoUdp = 0x80;
inline constexpr uint32_t kVxlanRcoShift = 1;

}  // namespace ferry::offload
