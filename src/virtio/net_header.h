#pragma once

// The virtio-net header (struct virtio_net_hdr_v1 / _v1_hash) in front of every frame on
// a virtio-net queue, translated to and from a Packet's offload state:
//
//   flags NEEDS_CSUM, csum_start/offset  <->  CsumState::kPartial (CHECKSUM_PARTIAL)
//   flags DATA_VALID                     <->  CsumState::kUnnecessary
//   flags RSC_INFO, csum_start/offset    <->  rsc_coalesced()/rsc_dup_acks() (RSC_EXT)
//   gso_type TCPV4/TCPV6/UDP/UDP_L4|ECN  <->  kGsoTcpv4/kGsoTcpv6/kGsoUdp/kGsoUdpL4|kGsoTcpEcn
//   gso_size                             <->  gso_size()
//   hash_value, hash_report              <->  rss_hash() (+ the report type)
//
// Headers from a driver are hostile: header_to_packet() validates them as Linux's
// virtio_net_hdr_to_skb() does and names what is wrong (NetHdrError); the checksum fields
// are checked against the frame length (DPDK CVE-2024-11614). A driver may spread the
// header over several descriptors: read_net_header() copies it together (DPDK
// CVE-2022-2132) instead of trusting the first descriptor to hold it.

#include <cstddef>
#include <cstdint>
#include <initializer_list>  // packet.h uses a braced list

#include "packet/packet.h"
#include "virtio/desc_chain.h"
#include "virtio/virtio_net_abi.h"

// USO (virtio 1.2), newer than Linux 6.1's UAPI header.
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

namespace ferry::virtio {

enum class NetHdrError : uint8_t {
  kNone = 0,
  kHeaderTruncated,        // the chain holds fewer bytes than the header
  kCsumStartPastEnd,       // NEEDS_CSUM: csum_start at or past the end of the frame
  kCsumOffsetPastEnd,      // NEEDS_CSUM: csum_start + csum_offset + 2 > frame length
  kCsumConflict,           // NEEDS_CSUM with RSC_INFO (they share the csum fields)
  kGsoSizeZero,            // gso_type set, gso_size 0
  kGsoSizeInvalid,         // gso_size 0xffff (Linux GSO_BY_FRAGS)
  kUnknownGsoType,         // gso_type not TCPV4/TCPV6/UDP/UDP_L4 (+ECN)
  kGsoWithoutCsum,         // USO without NEEDS_CSUM (Linux rejects it)
  kGsoCsumOffsetMismatch,  // TSO/USO whose csum_offset is not the TCP/UDP checksum field
  kTooManySegments,        // USO producing more than 64 datagrams (UDP_MAX_SEGMENTS)
  kUnknownHashReport,      // hash_report beyond VIRTIO_NET_HASH_REPORT_UDPv6_EX
  kGsoNotRepresentable,    // packet_to_header: a GSO type virtio cannot express (tunnels)
  kCount
};
inline constexpr unsigned kNetHdrErrorCount = static_cast<unsigned>(NetHdrError::kCount);
const char* to_string(NetHdrError e);

struct NetHdrErrorCounters {
  uint64_t count[kNetHdrErrorCount] = {};
  uint64_t operator[](NetHdrError e) const { return count[static_cast<unsigned>(e)]; }
  void add(NetHdrError e) { count[static_cast<unsigned>(e)]++; }
};

// Header size for negotiated features: 20 with HASH_REPORT, 12 with VERSION_1 or
// MRG_RXBUF, else the legacy 10.
size_t net_header_size(uint64_t features);

// Driver -> device (tx). Sets p's checksum and GSO state (and RSC info) from h;
// frame_len is the length of the frame after the header.
NetHdrError header_to_packet(const virtio_net_hdr_v1& h, uint32_t frame_len, Packet* p);
// The same plus the hash: sets rss_hash() when a report type is given; *report gets it.
NetHdrError hash_header_to_packet(const virtio_net_hdr_v1_hash& h, uint32_t frame_len, Packet* p,
                                  uint16_t* report);

// Device -> driver (rx). Fills h from p's offload state; num_buffers for MRG_RXBUF.
// h may point into guest memory: it is only written.
NetHdrError packet_to_header(const Packet& p, uint16_t num_buffers, virtio_net_hdr_v1* h);
// Stores h into a driver's buffer field by field, skipping the fields that already hold
// their value. Frame after frame the header repeats, and a driver that keeps it on a line
// of its own (DPDK virtio-user: the end of the mbuf headroom) then keeps that line in its
// cache instead of taking it back from the device's core for every frame.
inline void store_header(const virtio_net_hdr_v1& h, virtio_net_hdr_v1* guest) {
  auto assign = [](auto& field, auto value) {
    if (field != value) field = value;
  };
  assign(guest->flags, h.flags);
  assign(guest->gso_type, h.gso_type);
  assign(guest->hdr_len, h.hdr_len);
  assign(guest->gso_size, h.gso_size);
  assign(guest->csum_start, h.csum_start);
  assign(guest->csum_offset, h.csum_offset);
  assign(guest->num_buffers, h.num_buffers);
}
// Can p's offload state be expressed in a header (kGsoNotRepresentable otherwise)?
NetHdrError check_header_representable(const Packet& p);
// With the hash: hash_report is the VIRTIO_NET_HASH_REPORT_* type of p's rss_hash() (sent
// as NONE when p has no hash).
NetHdrError packet_to_hash_header(const Packet& p, uint16_t num_buffers, uint16_t hash_report,
                                  virtio_net_hdr_v1_hash* h);

// Copies the first hdr_len readable bytes of a chain into hdr, across descriptors.
NetHdrError read_net_header(const DescChain& chain, void* hdr, size_t hdr_len);

}  // namespace ferry::virtio
