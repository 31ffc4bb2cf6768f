#include "packet/header_align.h"

namespace ferry {

namespace {

// Bytes that address p is past a kNetworkHeaderAlign boundary.
uint32_t misalignment(const uint8_t* p) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p) & (kNetworkHeaderAlign - 1));
}

// Moves the head by -m or by (4 - m), whichever side has more room and fits. `reserve` is
// headroom that must stay free (for a push that follows).
bool realign(Packet& pkt, uint32_t m, uint32_t reserve, AlignStats& stats) {
  int32_t back = -static_cast<int32_t>(m);
  int32_t fwd = static_cast<int32_t>(kNetworkHeaderAlign - m);
  bool back_fits = pkt.headroom() >= reserve + m;
  bool fwd_fits = pkt.tailroom() >= static_cast<uint32_t>(fwd);
  int32_t delta;
  if (back_fits && fwd_fits) {
    delta = pkt.headroom() - reserve > pkt.tailroom() ? back : fwd;
  } else if (back_fits) {
    delta = back;
  } else if (fwd_fits) {
    delta = fwd;
  } else {
    stats.no_room++;
    return false;
  }
  pkt.move_data(delta);
  stats.realigned++;
  stats.bytes_moved += pkt.data_len();
  return true;
}

uint16_t strip_offset(uint16_t o, uint16_t n) {
  if (o == kNoOffset) return o;
  return o >= n ? static_cast<uint16_t>(o - n) : kNoOffset;
}

}  // namespace

AlignResult align_header_at(Packet& pkt, uint16_t offset, AlignStats& stats) {
  if (offset == kNoOffset) return AlignResult::kNoHeader;
  if (offset >= pkt.data_len()) {
    stats.not_in_head++;
    return AlignResult::kNotInHead;
  }
  uint32_t m = misalignment(pkt.data() + offset);
  if (m == 0) return AlignResult::kAligned;
  return realign(pkt, m, 0, stats) ? AlignResult::kRealigned : AlignResult::kNoRoom;
}

uint8_t* push_front(Packet& pkt, uint16_t n, uint16_t outer_l3_offset, AlignStats& stats) {
  if (n > pkt.headroom()) return nullptr;
  // Where the outer header would land without a move.
  uint32_t m = misalignment(pkt.data() - n + outer_l3_offset);
  if (m != 0) realign(pkt, m, n, stats);  // on no room, push unaligned
  pkt.shift_offsets(n);
  return pkt.prepend(n);
}

bool strip_front(Packet& pkt, uint16_t n, uint16_t new_l3_offset, AlignStats& stats) {
  if (n > pkt.data_len()) return false;
  pkt.adj(n);
  pkt.set_l3_offset(strip_offset(pkt.l3_offset(), n));
  pkt.set_l4_offset(strip_offset(pkt.l4_offset(), n));
  pkt.set_inner_l2_offset(strip_offset(pkt.inner_l2_offset(), n));
  pkt.set_inner_l3_offset(strip_offset(pkt.inner_l3_offset(), n));
  pkt.set_inner_l4_offset(strip_offset(pkt.inner_l4_offset(), n));
  if (pkt.csum_state() == CsumState::kPartial) {
    if (pkt.csum_start() < n) {
      pkt.set_csum_none();
    } else {
      pkt.set_csum_partial(static_cast<uint16_t>(pkt.csum_start() - n), pkt.csum_offset());
    }
  } else if (pkt.csum_state() == CsumState::kComplete) {
    if (pkt.csum_start() < n) {
      pkt.set_csum_none();
    } else {
      pkt.set_csum_complete(static_cast<uint16_t>(pkt.csum_start() - n), pkt.csum_value());
    }
  }
  align_header_at(pkt, new_l3_offset, stats);
  return true;
}

}  // namespace ferry
