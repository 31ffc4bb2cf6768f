// IP-layer rules of GRO (Linux inet_gro_receive / ipv6_gro_receive and their _complete
// counterparts).

#include "base/byteorder.h"
#include "csum/ip_checksum.h"
#include "offload/gro_flow.h"
#include "proto/ipv4.h"
#include "proto/ipv6.h"

namespace ferry::offload {

using proto::Ipv4Header;
using proto::Ipv6Header;

GroFlush gro_ipv4_check(const uint8_t* held, const uint8_t* seg, uint16_t first_id, uint16_t count,
                        GroIdMode* mode) {
  const auto* a = reinterpret_cast<const Ipv4Header*>(held);
  const auto* b = reinterpret_cast<const Ipv4Header*>(seg);
  // Everything but length, ID and checksum must match; TOS includes ECN, so a CE mark
  // ends the merge.
  if (a->ttl != b->ttl || a->tos != b->tos || a->dont_fragment() != b->dont_fragment()) {
    return GroFlush::kIpFields;
  }
  const bool df = b->dont_fragment();
  const uint16_t offset = static_cast<uint16_t>(b->id.value() - first_id);
  // As Linux: on the second segment the flow becomes "fixed ID" if DF is set and the ID
  // did not move; otherwise IDs must count up by one per segment. The mode is shared by
  // the inner and outer headers, so GSO can recreate both.
  if (*mode == GroIdMode::kUndecided) {
    *mode = df && offset == 0 ? GroIdMode::kFixed : GroIdMode::kIncrement;
  }
  if (*mode == GroIdMode::kFixed) return df && offset == 0 ? kGroMergeOk : GroFlush::kIpId;
  return offset == count ? kGroMergeOk : GroFlush::kIpId;
}

GroFlush gro_ipv6_check(const uint8_t* held, const uint8_t* seg) {
  // Addresses and next header are the flow key; traffic class (ECN included), flow label
  // and hop limit must not change.
  const auto* a = reinterpret_cast<const Ipv6Header*>(held);
  const auto* b = reinterpret_cast<const Ipv6Header*>(seg);
  return a->vtc_flow == b->vtc_flow && a->hop_limit == b->hop_limit ? kGroMergeOk
                                                                    : GroFlush::kIpFields;
}

void gro_ip_complete(Packet& head, uint16_t l3, bool v6) {
  uint8_t* ip = head.data() + l3;
  const uint32_t len = head.pkt_len() - l3;
  if (!v6) {
    auto* h = reinterpret_cast<Ipv4Header*>(ip);
    const uint16_t old_raw = h->total_length.raw();
    h->total_length.set(static_cast<uint16_t>(len));
    // Incremental update, as Linux's csum_replace2 in inet_gro_complete.
    h->checksum = Be16::from_raw(csum::update16(h->checksum.raw(), old_raw, h->total_length.raw()));
  } else {
    auto* h = reinterpret_cast<Ipv6Header*>(ip);
    h->payload_length.set(static_cast<uint16_t>(len - proto::kIpv6HeaderLen));
  }
}

}  // namespace ferry::offload
