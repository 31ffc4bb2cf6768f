#pragma once

// Offload state of packets crossing a kernel port (TAP, AF_PACKET) as a virtio-net header.
//
// Both kernel interfaces speak the virtio-net header: a TAP with IFF_VNET_HDR and
// TUNSETVNETHDRSZ 12 the 12-byte v1 header, an AF_PACKET socket with PACKET_VNET_HDR the
// 10-byte legacy one (the v1 header without num_buffers). The translation itself is
// virtio/net_header.h; this file adds what a kernel port does around it:
//
//  - receive: vnet_to_packet() validates a header the kernel wrote (it is still checked:
//    a bug or a hostile peer must not make Ferry trust a checksum offset past the frame);
//  - transmit: fit_tx_offloads() makes a packet acceptable to a port with capabilities
//    `caps` (finishes a partial checksum in software when the port cannot take it, drops
//    GSO the port does not take, clears ECN the port does not know), then
//    packet_to_vnet() writes the header.

#include <cstdint>

#include "packet/packet.h"
#include "port/port.h"
#include "port/port_stats.h"
#include "virtio/net_header.h"

namespace ferry::port {

// Size of the legacy header (AF_PACKET's PACKET_VNET_HDR) and of the v1 header (TAP).
inline constexpr uint32_t kVnetHdrLegacyLen = sizeof(virtio_net_hdr);
inline constexpr uint32_t kVnetHdrV1Len = sizeof(virtio_net_hdr_v1);

// True if a port with capabilities caps takes GSO packets of gso_type.
bool gso_accepted(uint16_t gso_type, uint32_t caps);

// Applies a received header (hdr_len bytes: 10 or 12, num_buffers ignored) to p, whose
// frame is frame_len bytes. false (p untouched but its offload state) on a bad header.
bool vnet_to_packet(const void* hdr, uint32_t frame_len, Packet* p,
                    virtio::NetHdrError* error = nullptr);

// Makes p fit a port with capabilities caps. false if it cannot: then *reason says why
// (kOffloadUnsupported, kChecksumFailed) and the caller drops and frees it. Counts
// finished checksums in s.csum_filled.
bool fit_tx_offloads(Packet* p, uint32_t caps, QueueStats& s, DropReason* reason);

// Writes p's offload state as a v1 header (num_buffers 0; a kernel ignores it). The first
// kVnetHdrLegacyLen bytes are the legacy header. false if it cannot be expressed.
bool packet_to_vnet(const Packet& p, virtio_net_hdr_v1* h);

}  // namespace ferry::port
