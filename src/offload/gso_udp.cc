// USO (UDP datagrams of gso_size bytes each) and UFO (one UDP datagram cut into IPv4
// fragments, or IPv6 fragments behind a fragment header).

#include <cstddef>
#include <cstring>

#include <netinet/in.h>
#include <netinet/ip.h>

#include "csum/chain_bytes.h"
#include "csum/ip_checksum.h"
#include "csum/raw_sum.h"
#include "offload/gso_plan.h"
#include "proto/ipv4.h"
#include "proto/ipv6.h"
#include "proto/udp.h"

namespace ferry::offload::detail {
namespace {

GsoError udp_header_check(const GsoPlan& p) {
  if (p.l4 + proto::kUdpHeaderLen > p.tmpl_len) {
    return p.l4 + proto::kUdpHeaderLen > p.in_len ? GsoError::kHeadersBeyondData
                                                  : GsoError::kHeadersTooLong;
  }
  return GsoError::kOk;
}

// --- USO ------------------------------------------------------------------------------

GsoError uso_plan(GsoPlan& p) {
  if (GsoError e = udp_header_check(p); e != GsoError::kOk) return e;
  p.hdr_len = p.l4 + proto::kUdpHeaderLen;
  p.mss = p.gso_size;
  return GsoError::kOk;
}

void uso_fixup(const GsoPlan& p, SegmentInfo& seg) {
  uint8_t* f = seg.pkt->data();
  fixup_ip(f, p.l3, p.v4, seg.len, static_cast<uint16_t>(p.ip_id0 + seg.index), p.ip_base);
  auto* uh = reinterpret_cast<proto::UdpHeader*>(f + p.l4);
  const uint32_t l4_len = seg.len - p.l4;
  store_be16(&uh->length, static_cast<uint16_t>(l4_len));
  const uint32_t ps = pseudo_with_len(p.pseudo0, p.v4, l4_len);
  if (p.partial_csum) {
    store_unaligned<uint16_t>(&uh->checksum, csum::fold(ps));
    seg.pkt->set_csum_partial(p.l4, offsetof(proto::UdpHeader, checksum));
  } else {
    store_unaligned<uint16_t>(&uh->checksum, 0);
    uint32_t sum = csum::add_at(csum::raw_sum(uh, proto::kUdpHeaderLen), seg.payload_sum,
                                proto::kUdpHeaderLen);
    uint16_t c = csum::finish(csum::add(ps, sum));
    store_unaligned<uint16_t>(&uh->checksum, c == 0 ? 0xffff : c);
  }
  seg.l4_sum = static_cast<uint16_t>(~csum::fold(ps));
}

// --- UFO ------------------------------------------------------------------------------

GsoError ufo_plan(GsoPlan& p) {
  if (GsoError e = udp_header_check(p); e != GsoError::kOk) return e;
  // Options (IPv4) and extension headers (IPv6) would have to be split into the parts
  // every fragment repeats and the parts only the first carries.
  if (p.l4 != p.l3 + (p.v4 ? proto::kIpv4MinHeaderLen : proto::kIpv6HeaderLen)) {
    return GsoError::kUnsupported;
  }
  p.mss = p.gso_size & ~7u;
  if (p.mss == 0) return GsoError::kGsoSizeTooSmall;
  p.hdr_len = p.l4;
  p.extra_len = p.v4 ? 0 : sizeof(proto::Ipv6FragmentHeader);
  p.reparse = true;
  p.partial_csum = false;
  // Fragments cannot have their checksum finished by the next hop: compute the
  // datagram's checksum now, over the whole chain.
  const uint32_t udp_len = p.in_len - p.l4;
  if (udp_len > proto::kIpv4MaxDatagram - (p.v4 ? proto::kIpv4MinHeaderLen : 0)) {
    return GsoError::kSegmentTooLarge;
  }
  proto::UdpHeader uh;
  std::memcpy(&uh, p.tmpl + p.l4, sizeof(uh));
  uh.length.set(static_cast<uint16_t>(udp_len));
  store_unaligned<uint16_t>(&uh.checksum, 0);
  uint32_t data_sum = 0;
  if (!csum::sum_chain(*p.in, p.l4 + proto::kUdpHeaderLen, udp_len - proto::kUdpHeaderLen, 0,
                       &data_sum)) {
    return GsoError::kHeadersBeyondData;
  }
  const uint32_t ps = pseudo_sum(p.tmpl, p.l3, p.v4, IPPROTO_UDP, udp_len);
  uint32_t sum = csum::add(csum::add(ps, csum::raw_sum(&uh, sizeof(uh))), data_sum);
  uint16_t c = csum::finish(sum);
  p.ufo_udp_check = c == 0 ? 0xffff : c;
  return GsoError::kOk;
}

void ufo_fixup(const GsoPlan& p, SegmentInfo& seg) {
  uint8_t* f = seg.pkt->data();
  const uint16_t more = seg.last() ? 0 : 1;
  uint32_t udp_at;
  if (p.v4) {
    auto* ip = reinterpret_cast<proto::Ipv4Header*>(f + p.l3);
    ip->total_length.set(static_cast<uint16_t>(seg.len - p.l3));
    const uint16_t df = ip->frag_off.value() & IP_DF;
    ip->frag_off.set(static_cast<uint16_t>(df | (more ? IP_MF : 0) | (seg.offset >> 3)));
    csum::ipv4_header_fill(ip, ip->header_len());
    udp_at = p.l4;
  } else {
    auto* ip = reinterpret_cast<proto::Ipv6Header*>(f + p.l3);
    const uint8_t next = ip->next_header;
    ip->next_header = IPPROTO_FRAGMENT;
    ip->payload_length.set(static_cast<uint16_t>(seg.len - p.l3 - proto::kIpv6HeaderLen));
    auto* fh = reinterpret_cast<proto::Ipv6FragmentHeader*>(f + p.l4);
    fh->next_header = next;
    fh->reserved = 0;
    fh->frag_off.set(static_cast<uint16_t>(seg.offset | more));
    fh->identification.set(p.frag_id);
    udp_at = p.l4 + sizeof(proto::Ipv6FragmentHeader);
  }
  if (seg.first()) {
    auto* uh = reinterpret_cast<proto::UdpHeader*>(f + udp_at);
    uh->length.set(static_cast<uint16_t>(p.in_len - p.l4));
    store_unaligned<uint16_t>(&uh->checksum, static_cast<uint16_t>(p.ufo_udp_check));
  }
  seg.l4_sum = 0;
}

}  // namespace

const L4Handler kUdpL4Handler = {kGsoUdpL4, &uso_plan, &uso_fixup, true};
const L4Handler kUfoHandler = {kGsoUdp, &ufo_plan, &ufo_fixup, false};

}  // namespace ferry::offload::detail
