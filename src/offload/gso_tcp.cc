// TSO: cutting a TCP segment (over IPv4 or IPv6, inner or outer) into MSS-sized ones.

#include <cstddef>

#include <netinet/in.h>

#include "csum/raw_sum.h"
#include "offload/gso_plan.h"
#include "proto/tcp.h"

namespace ferry::offload::detail {
namespace {

GsoError tcp_plan(GsoPlan& p) {
  if (p.l4 + proto::kTcpMinHeaderLen > p.tmpl_len) {
    return p.l4 + proto::kTcpMinHeaderLen > p.in_len ? GsoError::kHeadersBeyondData
                                                     : GsoError::kHeadersTooLong;
  }
  const auto* th = reinterpret_cast<const proto::TcpHeader*>(p.tmpl + p.l4);
  if (th->header_len() < proto::kTcpMinHeaderLen) return GsoError::kTypeMismatch;
  p.hdr_len = p.l4 + th->header_len();
  p.mss = p.gso_size;
  return GsoError::kOk;
}

void tcp_fixup(const GsoPlan& p, SegmentInfo& seg) {
  uint8_t* f = seg.pkt->data();
  const uint32_t id_add = (p.gso_type & kGsoTcpFixedId) ? 0 : seg.index;
  fixup_ip(f, p.l3, p.v4, seg.len, static_cast<uint16_t>(p.ip_id0 + id_add), p.ip_base);

  auto* th = reinterpret_cast<proto::TcpHeader*>(f + p.l4);
  // Whole-word stores: the checksum below reads these bytes right back.
  store_be32(&th->seq, load_be32(p.tmpl + p.l4 + 4) + seg.offset);
  // Linux tcp_gso_segment: FIN and PSH belong to the last segment, CWR to the first.
  // (Fields come from the template: reading back bytes just copied can stall on the
  // store buffer the payload copy filled.)
  const auto* tt = reinterpret_cast<const proto::TcpHeader*>(p.tmpl + p.l4);
  uint8_t flags = tt->flags;
  if (!seg.last()) flags &= static_cast<uint8_t>(~(proto::kTcpFin | proto::kTcpPsh));
  if (!seg.first()) flags &= static_cast<uint8_t>(~proto::kTcpCwr);
  th->flags = flags;

  const uint32_t l4_len = seg.len - p.l4;
  const uint32_t ps = pseudo_with_len(p.pseudo0, p.v4, l4_len);
  if (p.partial_csum) {
    store_unaligned<uint16_t>(&th->checksum, csum::fold(ps));
    seg.pkt->set_csum_partial(p.l4, offsetof(proto::TcpHeader, checksum));
  } else {
    store_unaligned<uint16_t>(&th->checksum, 0);
    const uint32_t hl = tt->header_len();
    uint32_t sum = csum::add_at(csum::raw_sum(th, hl), seg.payload_sum, hl);
    store_unaligned<uint16_t>(&th->checksum, csum::finish(csum::add(ps, sum)));
  }
  // Once the checksum is final the L4 bytes sum to the complement of the pseudo header.
  seg.l4_sum = static_cast<uint16_t>(~csum::fold(ps));
}

}  // namespace

const L4Handler kTcpHandler = {kGsoTcpv4 | kGsoTcpv6, &tcp_plan, &tcp_fixup, true};

}  // namespace ferry::offload::detail
