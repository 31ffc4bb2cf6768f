#include "csum/offload_state.h"

#include "csum/chain_bytes.h"
#include "csum/raw_sum.h"

namespace ferry::csum {
namespace {

bool skippable(CsumError e) {
  return e == CsumError::kNoHeader || e == CsumError::kUnsupported;
}

// The L4 checksum of `layer`, from the kComplete sum where it can be.
CsumError verify_layer_l4(const Packet& p, Layer layer) {
  if (p.csum_state() == CsumState::kComplete) {
    CsumError e = verify_l4_complete(p, layer);
    if (e != CsumError::kCsumStartAfterL4 && e != CsumError::kCsumStartBeyondEnd) return e;
  }
  return verify_l4(p, layer);
}

}  // namespace

CsumError check_partial(const Packet& p) {
  const uint32_t len = chain_data_len(p);
  const uint32_t start = p.csum_start();
  if (start >= len) return CsumError::kCsumStartBeyondEnd;
  if (start + uint32_t{p.csum_offset()} + 2 > len) return CsumError::kCsumFieldBeyondEnd;
  return CsumError::kOk;
}

CsumError finish_partial(Packet& p) {
  if (p.csum_state() != CsumState::kPartial) return CsumError::kBadState;
  if (CsumError e = check_partial(p); e != CsumError::kOk) return e;
  const uint32_t start = p.csum_start();
  uint32_t sum;
  if (!sum_chain(p, start, chain_data_len(p) - start, 0, &sum)) return CsumError::kTruncated;
  uint16_t check = finish(sum);
  if (check == 0) check = 0xffff;
  copy_to_chain(p, start + p.csum_offset(), &check, sizeof(check));
  p.set_csum_none();
  return CsumError::kOk;
}

CsumError make_complete(Packet& p, uint16_t start) {
  if (p.csum_state() == CsumState::kPartial) return CsumError::kBadState;
  const uint32_t len = chain_data_len(p);
  if (start > len) return CsumError::kCsumStartBeyondEnd;
  uint32_t sum;
  if (!sum_chain(p, start, len - start, 0, &sum)) return CsumError::kTruncated;
  p.set_csum_complete(start, fold(sum));
  return CsumError::kOk;
}

CsumError verify_l4_complete(const Packet& p, Layer layer) {
  if (p.csum_state() != CsumState::kComplete) return CsumError::kBadState;
  const uint32_t len = chain_data_len(p);
  const uint32_t start = p.csum_start();
  if (start > len) return CsumError::kCsumStartBeyondEnd;
  L4Span s;
  if (CsumError e = locate_l4(p, layer, &s); e != CsumError::kOk) return e;
  if (start > s.l4_offset) return CsumError::kCsumStartAfterL4;
  if (s.is_udp) {
    uint16_t check = 0;
    copy_from_chain(p, s.field_offset, &check, sizeof(check));
    if (check == 0) return s.is_ipv6 ? CsumError::kBadChecksum : CsumError::kOk;
  }
  // csum_value() = before ++ L4 ++ after, each block paired from csum_start; take the
  // others out and look at the L4 block from its own start.
  const uint32_t l4_end = s.l4_offset + s.l4_len;
  uint32_t before, after;
  if (!sum_chain(p, start, s.l4_offset - start, 0, &before) ||
      !sum_chain(p, l4_end, len - l4_end, 0, &after)) {
    return CsumError::kTruncated;
  }
  uint32_t l4 = sub(p.csum_value(), before);
  l4 = sub(l4, (l4_end - start) & 1 ? swap_parity(after) : after);
  if ((s.l4_offset - start) & 1) l4 = swap_parity(l4);
  // Subtraction may leave the other zero (0 instead of 0xffff); both mean "sums to 0".
  uint16_t r = fold(add(l4, s.pseudo_sum));
  return r == 0xffff || r == 0 ? CsumError::kOk : CsumError::kBadChecksum;
}

CsumError mark_unnecessary(Packet& p) {
  if (p.csum_state() == CsumState::kPartial) return CsumError::kBadState;
  if (CsumError e = verify_ipv4_header(p, Layer::kOuter); e != CsumError::kOk && !skippable(e)) {
    return e;
  }
  if (CsumError e = verify_layer_l4(p, Layer::kOuter); e != CsumError::kOk && !skippable(e)) {
    return e;
  }
  bool inner_verified = false;
  if (p.packet_type().tunnel() != TunnelType::kNone) {
    if (CsumError e = verify_ipv4_header(p, Layer::kInner); e != CsumError::kOk && !skippable(e)) {
      return e;
    }
    CsumError e = verify_layer_l4(p, Layer::kInner);
    if (e != CsumError::kOk && !skippable(e)) return e;
    inner_verified = e == CsumError::kOk;
  }
  p.set_csum_unnecessary(inner_verified);
  return CsumError::kOk;
}

CsumError to_partial(Packet& p, Layer layer) {
  if (p.csum_state() == CsumState::kPartial) return check_partial(p);
  L4Span s;
  if (CsumError e = locate_l4(p, layer, &s); e != CsumError::kOk) return e;
  if (s.l4_offset + s.l4_len != chain_data_len(p)) return CsumError::kBadLength;
  uint16_t pseudo = fold(s.pseudo_sum);
  copy_to_chain(p, s.field_offset, &pseudo, sizeof(pseudo));
  p.set_csum_partial(static_cast<uint16_t>(s.l4_offset),
                     static_cast<uint16_t>(s.field_offset - s.l4_offset));
  return CsumError::kOk;
}

}  // namespace ferry::csum
