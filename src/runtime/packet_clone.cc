#include "runtime/packet_clone.h"

#include <cstring>

#include "packet/packet_bytes.h"
#include "packet/segment_reader.h"

namespace ferry::runtime {

Packet* clone_packet(BufferPool& pool, const Packet& p) {
  Packet* c;
  if (!p.is_chained()) {
    c = pool.alloc();
    if (c == nullptr) return nullptr;
    if (c->tailroom() < p.data_len()) {
      free_packet(c);
      std::vector<uint8_t> bytes(p.data(), p.data() + p.data_len());
      c = packet_from_bytes(pool, bytes);
      if (c == nullptr) return nullptr;
    } else {
      std::memcpy(c->append(p.data_len()), p.data(), p.data_len());
    }
  } else {
    std::vector<uint8_t> bytes = packet_to_bytes(p);
    c = packet_from_bytes(pool, bytes);
    if (c == nullptr) return nullptr;
  }
  c->set_packet_type(p.packet_type());
  c->set_l3_offset(p.l3_offset());
  c->set_l4_offset(p.l4_offset());
  c->set_inner_l2_offset(p.inner_l2_offset());
  c->set_inner_l3_offset(p.inner_l3_offset());
  c->set_inner_l4_offset(p.inner_l4_offset());
  switch (p.csum_state()) {
    case CsumState::kPartial:
      c->set_csum_partial(p.csum_start(), p.csum_offset());
      break;
    case CsumState::kComplete:
      c->set_csum_complete(p.csum_start(), p.csum_value());
      break;
    case CsumState::kUnnecessary:
      c->set_csum_unnecessary((p.flags() & kFlagCsumLevelInner) != 0);
      break;
    case CsumState::kNone:
      break;
  }
  if (p.has_rsc_info()) c->set_rsc_info(p.rsc_coalesced(), p.rsc_dup_acks());
  c->set_gso(p.gso_type(), p.gso_size());
  if (p.has_vlan_tci()) c->set_vlan_tci(p.vlan_tci());
  if (p.has_rss_hash()) c->set_rss_hash(p.rss_hash());
  c->set_in_port(p.in_port());
  return c;
}

uint32_t flow_hash(const Packet& p) {
  // FNV-1a over the L3 addresses and L4 ports when the packet was parsed, else the MACs.
  uint32_t h = 2166136261u;
  auto mix = [&](const uint8_t* b, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
      h = (h ^ b[i]) * 16777619u;
  };
  const uint8_t* d = p.data();
  uint32_t len = p.data_len();
  uint16_t l3 = p.l3_offset();
  if (l3 != kNoOffset && l3 + 40u <= len && (d[l3] >> 4) == 6) {
    mix(d + l3 + 8, 32);
  } else if (l3 != kNoOffset && l3 + 20u <= len && (d[l3] >> 4) == 4) {
    mix(d + l3 + 12, 8);
  } else if (len >= 12) {
    mix(d, 12);
  }
  uint16_t l4 = p.l4_offset();
  if (l4 != kNoOffset && l4 + 4u <= len) mix(d + l4, 4);
  return h;
}

}  // namespace ferry::runtime
