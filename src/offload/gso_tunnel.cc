// Outer headers of tunnelled GSO packets: VXLAN and Geneve (UDP), GRE.

#include <cstddef>

#include <netinet/in.h>

#include "csum/raw_sum.h"
#include "offload/gso_plan.h"
#include "proto/gre.h"
#include "proto/udp.h"

namespace ferry::offload::detail {
namespace {

// --- VXLAN / Geneve -------------------------------------------------------------------

GsoError udp_tunnel_plan(GsoPlan& p) {
  const TunnelType t = p.in->packet_type().tunnel();
  if ((t != TunnelType::kVxlan && t != TunnelType::kGeneve) ||
      p.in->packet_type().l4() != L4Type::kUdp) {
    return GsoError::kTypeMismatch;
  }
  if (p.outer_l4 + proto::kUdpHeaderLen > p.l3) return GsoError::kTypeMismatch;
  if (p.gso_partial && (p.gso_type & kGsoUdpTunnelCsum)) {
    // The peer finishes the outer UDP checksum, so the inner one must be final.
    p.outer_csum_state_l4 = p.outer_l4;
    p.partial_csum = false;
  }
  return GsoError::kOk;
}

void udp_tunnel_fixup(const GsoPlan& p, SegmentInfo& seg) {
  uint8_t* f = seg.pkt->data();
  auto* uh = reinterpret_cast<proto::UdpHeader*>(f + p.outer_l4);
  const uint32_t udp_len = seg.len - p.outer_l4;
  store_be16(&uh->length, static_cast<uint16_t>(udp_len));
  if (p.src_port != 0) store_be16(&uh->src_port, p.src_port);
  if (!(p.gso_type & kGsoUdpTunnelCsum)) {
    store_unaligned<uint16_t>(&uh->checksum, 0);
    return;
  }
  // The outer IP length is not rewritten yet, but the pseudo header takes the UDP length.
  const uint32_t ps = pseudo_with_len(p.outer_pseudo0, p.outer_v4, udp_len);
  if (p.gso_partial) {
    store_unaligned<uint16_t>(&uh->checksum, csum::fold(ps));
    return;
  }
  // Local checksum offload: the inner L4 bytes sum to seg.l4_sum once final, so only the
  // bytes between the outer UDP header and the inner L4 header are read.
  store_unaligned<uint16_t>(&uh->checksum, 0);
  const uint32_t head = p.l4 - p.outer_l4;
  uint32_t sum = csum::add_at(csum::raw_sum(uh, head), seg.l4_sum, head);
  uint16_t c = csum::finish(csum::add(ps, sum));
  store_unaligned<uint16_t>(&uh->checksum, c == 0 ? 0xffff : c);
}

// --- GRE ------------------------------------------------------------------------------

GsoError gre_plan(GsoPlan& p) {
  if (p.in->packet_type().tunnel() != TunnelType::kGre) return GsoError::kTypeMismatch;
  if (p.outer_l4 + proto::kGreMinHeaderLen > p.tmpl_len) return GsoError::kTypeMismatch;
  const auto* gre = reinterpret_cast<const proto::GreHeader*>(p.tmpl + p.outer_l4);
  // Sequence numbers would have to be assigned per segment by the tunnel owner.
  if (gre->sequence_present()) return GsoError::kUnsupported;
  if ((p.gso_type & kGsoGreCsum) && !gre->checksum_present()) return GsoError::kTypeMismatch;
  if (p.outer_l4 + gre->header_len() > p.l3) return GsoError::kTypeMismatch;
  return GsoError::kOk;
}

void gre_fixup(const GsoPlan& p, SegmentInfo& seg) {
  uint8_t* f = seg.pkt->data();
  auto* gre = reinterpret_cast<proto::GreHeader*>(f + p.outer_l4);
  if (!gre->checksum_present()) return;
  // RFC 2784: the checksum covers the GRE header and payload; no pseudo header. The
  // payload's L4 part is summed from seg.l4_sum (LCO), the rest is headers.
  uint8_t* field = f + p.outer_l4 + sizeof(proto::GreHeader);
  store_unaligned<uint16_t>(field, 0);
  const uint32_t head = p.l4 - p.outer_l4;
  uint32_t sum = csum::add_at(csum::raw_sum(gre, head), seg.l4_sum, head);
  store_unaligned<uint16_t>(field, csum::finish(sum));
}

}  // namespace

const TunnelHandler kUdpTunnelHandler = {kGsoUdpTunnel | kGsoUdpTunnelCsum, &udp_tunnel_plan,
                                         &udp_tunnel_fixup};
const TunnelHandler kGreHandler = {kGsoGre | kGsoGreCsum, &gre_plan, &gre_fixup};

}  // namespace ferry::offload::detail
