// Rewriting a merged packet as Linux's tcp_gro_complete / udp_gro_complete and the
// tunnel handlers leave it, so that GSO recreates the original segments.

#include "base/byteorder.h"
#include "csum/ip_checksum.h"
#include "csum/raw_sum.h"
#include "offload/gro_flow.h"
#include "proto/ipv4.h"
#include "proto/ipv6.h"
#include "proto/tcp.h"
#include "proto/udp.h"

namespace ferry::offload {
namespace {

// The folded pseudo-header sum of the L4 header at l4 under the IP header at l3 (no
// extension headers), stored in the checksum field at field: the state Linux calls
// CHECKSUM_PARTIAL, which the next hop or GSO finishes.
void store_pseudo_sum(Packet& head, uint16_t l3, bool v6, uint16_t l4, uint8_t protocol,
                      uint32_t field) {
  uint8_t* ip = head.data() + l3;
  const uint32_t l4_len = head.pkt_len() - l4;
  const uint32_t sum =
      v6 ? csum::pseudo_sum_ipv6(ip + 8, ip + 24, protocol, l4_len)
         : csum::pseudo_sum_ipv4(ip + 12, ip + 16, protocol, static_cast<uint16_t>(l4_len));
  store_unaligned<uint16_t>(head.data() + field, csum::fold(sum));
}

void set_udp_length(Packet& head, uint16_t l4) {
  auto* u = reinterpret_cast<proto::UdpHeader*>(head.data() + l4);
  u->length.set(static_cast<uint16_t>(head.pkt_len() - l4));
}

}  // namespace

void gro_l4_complete(GroFlow& f) {
  Packet& h = *f.head;
  uint16_t type = 0;
  if (f.tunnel != TunnelType::kNone) {
    gro_ip_complete(h, f.outer_l3, f.outer_v6);
    if (f.tunnel == TunnelType::kGre) {
      // The GRE checksum is left as received; GSO fills it per segment (kGsoGreCsum).
      type |= kGsoGre | (f.gre_csum ? kGsoGreCsum : 0);
    } else {
      set_udp_length(h, f.outer_l4);
      type |= kGsoUdpTunnel;
      if (f.outer_udp_csum) {
        type |= kGsoUdpTunnelCsum;
        store_pseudo_sum(h, f.outer_l3, f.outer_v6, f.outer_l4, IPPROTO_UDP,
                         f.outer_l4 + offsetof(proto::UdpHeader, checksum));
      }
    }
  }
  gro_ip_complete(h, f.l3, f.v6);
  uint32_t field;
  if (f.proto == GroL4::kTcp) {
    field = f.l4 + offsetof(proto::TcpHeader, checksum);
    store_pseudo_sum(h, f.l3, f.v6, f.l4, IPPROTO_TCP, field);
    type |= f.v6 ? kGsoTcpv6 : kGsoTcpv4;
    const auto* th = reinterpret_cast<const proto::TcpHeader*>(h.data() + f.l4);
    if (th->has(proto::kTcpCwr)) type |= kGsoTcpEcn;
  } else {
    set_udp_length(h, f.l4);
    field = f.l4 + offsetof(proto::UdpHeader, checksum);
    store_pseudo_sum(h, f.l3, f.v6, f.l4, IPPROTO_UDP, field);
    type |= kGsoUdpL4;
  }
  if (f.id_mode == GroIdMode::kFixed) type |= kGsoTcpFixedId;
  h.set_csum_partial(f.l4, static_cast<uint16_t>(field - f.l4));
  h.set_gso(type, f.mss);
}

}  // namespace ferry::offload
