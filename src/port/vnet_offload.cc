#include "port/vnet_offload.h"

#include <cstring>

#include "csum/offload_state.h"

namespace ferry::port {

bool gso_accepted(uint16_t gso_type, uint32_t caps) {
  switch (gso_type & (kGsoTcpv4 | kGsoTcpv6 | kGsoUdp | kGsoUdpL4)) {
    case kGsoTcpv4:
      return (caps & kCapTxTso4) != 0;
    case kGsoTcpv6:
      return (caps & kCapTxTso6) != 0;
    case kGsoUdp:
      return (caps & kCapTxUfo) != 0;
    case kGsoUdpL4:
      return (caps & kCapTxUso) != 0;
    default:
      return false;
  }
}

bool vnet_to_packet(const void* hdr, uint32_t frame_len, Packet* p, virtio::NetHdrError* error) {
  virtio_net_hdr_v1 h{};
  std::memcpy(&h, hdr, kVnetHdrLegacyLen);
  virtio::NetHdrError e = virtio::header_to_packet(h, frame_len, p);
  if (error != nullptr) *error = e;
  return e == virtio::NetHdrError::kNone;
}

bool fit_tx_offloads(Packet* p, uint32_t caps, QueueStats& s, DropReason* reason) {
  if (p->is_gso()) {
    if (!gso_accepted(p->gso_type(), caps)) {
      *reason = DropReason::kOffloadUnsupported;
      return false;
    }
    if ((p->gso_type() & kGsoTcpEcn) && (caps & kCapTxEcn) == 0) {
      p->set_gso(p->gso_type() & ~kGsoTcpEcn, p->gso_size());
    }
  }
  if (p->csum_state() == CsumState::kPartial && (caps & kCapTxCsum) == 0) {
    // A GSO packet keeps its partial checksum: the segmenter finishes it per segment.
    if (!p->is_gso()) {
      if (csum::finish_partial(*p) != csum::CsumError::kOk) {
        *reason = DropReason::kChecksumFailed;
        return false;
      }
      s.csum_filled++;
    }
  }
  return true;
}

bool packet_to_vnet(const Packet& p, virtio_net_hdr_v1* h) {
  return virtio::packet_to_header(p, 0, h) == virtio::NetHdrError::kNone;
}

}  // namespace ferry::port
