#include "virtio/net_header.h"

#include <cstring>

#include <endian.h>

#include "virtio/features.h"

namespace ferry::virtio {

namespace {
constexpr uint16_t kTcpCheckOffset = 16;  // offsetof(struct tcphdr, check)
constexpr uint16_t kUdpCheckOffset = 6;   // offsetof(struct udphdr, check)
constexpr uint16_t kUdpHeaderLen = 8;
constexpr uint32_t kUdpMaxSegments = 64;  // Linux UDP_MAX_SEGMENTS
constexpr uint16_t kGsoByFrags = 0xffff;  // Linux GSO_BY_FRAGS
constexpr uint16_t kGsoBaseBits = kGsoTcpv4 | kGsoTcpv6 | kGsoUdp | kGsoUdpL4;
}  // namespace

const char* to_string(NetHdrError e) {
  switch (e) {
    case NetHdrError::kNone:
      return "none";
    case NetHdrError::kHeaderTruncated:
      return "virtio-net header truncated";
    case NetHdrError::kCsumStartPastEnd:
      return "csum_start past the end of the frame";
    case NetHdrError::kCsumOffsetPastEnd:
      return "checksum field past the end of the frame";
    case NetHdrError::kCsumConflict:
      return "NEEDS_CSUM together with RSC_INFO";
    case NetHdrError::kGsoSizeZero:
      return "GSO with gso_size 0";
    case NetHdrError::kGsoSizeInvalid:
      return "gso_size invalid";
    case NetHdrError::kUnknownGsoType:
      return "unknown gso_type";
    case NetHdrError::kGsoWithoutCsum:
      return "GSO without NEEDS_CSUM";
    case NetHdrError::kGsoCsumOffsetMismatch:
      return "GSO csum_offset is not the L4 checksum";
    case NetHdrError::kTooManySegments:
      return "GSO produces too many segments";
    case NetHdrError::kUnknownHashReport:
      return "unknown hash report type";
    case NetHdrError::kGsoNotRepresentable:
      return "GSO type not representable in virtio";
    case NetHdrError::kCount:
      break;
  }
  return "unknown";
}

size_t net_header_size(uint64_t features) {
  if (has_feature(features, VIRTIO_NET_F_HASH_REPORT)) return sizeof(virtio_net_hdr_v1_hash);
  if (has_feature(features, VIRTIO_F_VERSION_1) || has_feature(features, VIRTIO_NET_F_MRG_RXBUF)) {
    return sizeof(virtio_net_hdr_v1);
  }
  return sizeof(virtio_net_hdr);
}

NetHdrError header_to_packet(const virtio_net_hdr_v1& h, uint32_t frame_len, Packet* p) {
  uint16_t gso_size = le16toh(h.gso_size);
  uint16_t csum_start = le16toh(h.csum_start);
  uint16_t csum_offset = le16toh(h.csum_offset);
  bool needs_csum = (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;

  uint16_t gso = kGsoNone;
  if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
    switch (h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
      case VIRTIO_NET_HDR_GSO_TCPV4:
        gso = kGsoTcpv4;
        break;
      case VIRTIO_NET_HDR_GSO_TCPV6:
        gso = kGsoTcpv6;
        break;
      case VIRTIO_NET_HDR_GSO_UDP:
        gso = kGsoUdp;
        break;
      case VIRTIO_NET_HDR_GSO_UDP_L4:
        gso = kGsoUdpL4;
        break;
      default:
        return NetHdrError::kUnknownGsoType;
    }
    if (h.gso_type & VIRTIO_NET_HDR_GSO_ECN) gso |= kGsoTcpEcn;
    if (gso_size == 0) return NetHdrError::kGsoSizeZero;
    if (gso_size == kGsoByFrags) return NetHdrError::kGsoSizeInvalid;
  }
  if (needs_csum) {
    if (h.flags & VIRTIO_NET_HDR_F_RSC_INFO) return NetHdrError::kCsumConflict;
    if (csum_start >= frame_len) return NetHdrError::kCsumStartPastEnd;
    if (uint32_t{csum_start} + csum_offset + 2 > frame_len) return NetHdrError::kCsumOffsetPastEnd;
  }
  if (gso & (kGsoTcpv4 | kGsoTcpv6)) {
    if (needs_csum && csum_offset != kTcpCheckOffset) return NetHdrError::kGsoCsumOffsetMismatch;
  } else if (gso & kGsoUdpL4) {
    if (!needs_csum) return NetHdrError::kGsoWithoutCsum;
    if (csum_offset != kUdpCheckOffset) return NetHdrError::kGsoCsumOffsetMismatch;
    uint32_t payload_start = uint32_t{csum_start} + kUdpHeaderLen;
    if (frame_len > payload_start &&
        frame_len - payload_start > uint32_t{gso_size} * kUdpMaxSegments) {
      return NetHdrError::kTooManySegments;
    }
  }

  if (h.flags & VIRTIO_NET_HDR_F_RSC_INFO) {
    p->set_rsc_info(csum_start, csum_offset);
  }
  if (needs_csum) {
    p->set_csum_partial(csum_start, csum_offset);
  } else if (h.flags & VIRTIO_NET_HDR_F_DATA_VALID) {
    p->set_csum_unnecessary();
  } else if (!(h.flags & VIRTIO_NET_HDR_F_RSC_INFO)) {
    p->set_csum_none();
  }
  if (gso != kGsoNone) {
    p->set_gso(gso, gso_size);
  } else {
    p->clear_gso();
  }
  return NetHdrError::kNone;
}

NetHdrError hash_header_to_packet(const virtio_net_hdr_v1_hash& h, uint32_t frame_len, Packet* p,
                                  uint16_t* report) {
  uint16_t type = le16toh(h.hash_report);
  if (type > VIRTIO_NET_HASH_REPORT_UDPv6_EX) return NetHdrError::kUnknownHashReport;
  NetHdrError err = header_to_packet(h.hdr, frame_len, p);
  if (err != NetHdrError::kNone) return err;
  *report = type;
  if (type != VIRTIO_NET_HASH_REPORT_NONE) p->set_rss_hash(le32toh(h.hash_value));
  return NetHdrError::kNone;
}

NetHdrError check_header_representable(const Packet& p) {
  uint16_t gso = p.gso_type();
  if (gso == kGsoNone) return NetHdrError::kNone;
  uint16_t base = gso & kGsoBaseBits;
  if ((gso & ~(kGsoBaseBits | kGsoTcpEcn | kGsoTcpFixedId)) != 0 || (base & (base - 1)) != 0 ||
      base == 0) {
    return NetHdrError::kGsoNotRepresentable;
  }
  return NetHdrError::kNone;
}

NetHdrError packet_to_header(const Packet& p, uint16_t num_buffers, virtio_net_hdr_v1* h) {
  std::memset(h, 0, sizeof(*h));
  h->num_buffers = htole16(num_buffers);
  uint16_t gso = p.gso_type();
  if (gso != kGsoNone) {
    if (NetHdrError e = check_header_representable(p); e != NetHdrError::kNone) return e;
    uint16_t base = gso & kGsoBaseBits;
    uint8_t type = base == kGsoTcpv4   ? VIRTIO_NET_HDR_GSO_TCPV4
                   : base == kGsoTcpv6 ? VIRTIO_NET_HDR_GSO_TCPV6
                   : base == kGsoUdp   ? VIRTIO_NET_HDR_GSO_UDP
                                       : VIRTIO_NET_HDR_GSO_UDP_L4;
    if (gso & kGsoTcpEcn) type |= VIRTIO_NET_HDR_GSO_ECN;
    h->gso_type = type;
    h->gso_size = htole16(p.gso_size());
  }
  if (p.has_rsc_info()) {
    h->flags |= VIRTIO_NET_HDR_F_RSC_INFO;
    h->csum_start = htole16(p.rsc_coalesced());
    h->csum_offset = htole16(p.rsc_dup_acks());
    if (p.csum_state() == CsumState::kUnnecessary) h->flags |= VIRTIO_NET_HDR_F_DATA_VALID;
    return NetHdrError::kNone;
  }
  switch (p.csum_state()) {
    case CsumState::kPartial: {
      h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      h->csum_start = htole16(p.csum_start());
      h->csum_offset = htole16(p.csum_offset());
      // hdr_len: the headers through L4, a hint for the driver's GSO handling.
      uint32_t l4_len = 0;
      if (gso & (kGsoTcpv4 | kGsoTcpv6)) {
        uint32_t doff_at = uint32_t{p.csum_start()} + 12;
        if (doff_at < p.data_len()) l4_len = (p.data()[doff_at] >> 4) * 4u;
      } else if (gso & (kGsoUdp | kGsoUdpL4)) {
        l4_len = kUdpHeaderLen;
      }
      if (gso != kGsoNone && l4_len != 0) h->hdr_len = htole16(p.csum_start() + l4_len);
      break;
    }
    case CsumState::kUnnecessary:
      h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
      break;
    case CsumState::kComplete:  // no virtio equivalent; the guest verifies
    case CsumState::kNone:
      break;
  }
  return NetHdrError::kNone;
}

NetHdrError packet_to_hash_header(const Packet& p, uint16_t num_buffers, uint16_t hash_report,
                                  virtio_net_hdr_v1_hash* h) {
  std::memset(h, 0, sizeof(*h));
  NetHdrError err = packet_to_header(p, num_buffers, &h->hdr);
  if (err != NetHdrError::kNone) return err;
  if (hash_report > VIRTIO_NET_HASH_REPORT_UDPv6_EX) return NetHdrError::kUnknownHashReport;
  if (p.has_rss_hash() && hash_report != VIRTIO_NET_HASH_REPORT_NONE) {
    h->hash_value = htole32(p.rss_hash());
    h->hash_report = htole16(hash_report);
  }
  return NetHdrError::kNone;
}

NetHdrError read_net_header(const DescChain& chain, void* hdr, size_t hdr_len) {
  if (copy_from_chain(chain, 0, hdr, hdr_len) != hdr_len) return NetHdrError::kHeaderTruncated;
  return NetHdrError::kNone;
}

}  // namespace ferry::virtio
