#include "switch/packet_clone.h"

#include "packet/segment_reader.h"

namespace ferry::sw {

Packet* clone_packet(BufferPool& pool, const Packet& src) {
  uint32_t total = chain_length(src);
  SegmentReader reader(src);
  Packet* head = nullptr;
  Packet* tail = nullptr;
  uint32_t left = total;
  do {
    Packet* seg = pool.alloc();
    if (seg == nullptr) {
      free_packet(head);
      return nullptr;
    }
    uint32_t n = left < pool.data_room() ? left : pool.data_room();
    uint8_t* dst = seg->append(n);
    reader.read(dst, n);
    left -= n;
    if (head == nullptr) {
      head = tail = seg;
    } else {
      head->append_segment(seg);
      tail = seg;
    }
  } while (left > 0);
  (void)tail;

  head->set_packet_type(src.packet_type());
  head->set_l3_offset(src.l3_offset());
  head->set_l4_offset(src.l4_offset());
  head->set_inner_l2_offset(src.inner_l2_offset());
  head->set_inner_l3_offset(src.inner_l3_offset());
  head->set_inner_l4_offset(src.inner_l4_offset());
  head->set_in_port(src.in_port());
  if (src.has_rss_hash()) head->set_rss_hash(src.rss_hash());
  if (src.has_vlan_tci()) head->set_vlan_tci(src.vlan_tci());
  head->set_gso(src.gso_type(), src.gso_size());
  if (src.has_rsc_info()) {
    head->set_rsc_info(src.rsc_coalesced(), src.rsc_dup_acks());
  } else {
    switch (src.csum_state()) {
      case CsumState::kNone:
        break;
      case CsumState::kPartial:
        head->set_csum_partial(src.csum_start(), src.csum_offset());
        break;
      case CsumState::kComplete:
        head->set_csum_complete(src.csum_start(), src.csum_value());
        break;
      case CsumState::kUnnecessary:
        head->set_csum_unnecessary((src.flags() & kFlagCsumLevelInner) != 0);
        break;
    }
  }
  return head;
}

}  // namespace ferry::sw
