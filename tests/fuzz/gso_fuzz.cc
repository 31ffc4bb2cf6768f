// Fuzzes GSO and the tunnel code: the input is a small control block followed by one
// frame. The control block sets gso_type, gso_size, the checksum state and fields, how the
// frame is split into a chain, and optionally corrupts a parsed offset (a hostile
// descriptor). The frame is parsed, decapsulated/encapsulated on some inputs, and
// segmented in both checksum modes. Every output segment must re-parse and is freed;
// the pool must be empty at the end (no leaks) and never see a bad free.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "csum/offload_state.h"
#include "csum/packet_checksum.h"
#include "offload/gso.h"
#include "offload/tunnel.h"
#include "packet/buffer_pool.h"
#include "packet/segment_reader.h"
#include "proto/parser.h"

namespace {

using namespace ferry;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)                                                 \
  do {                                                                   \
    if (!(cond)) {                                                       \
      __builtin_printf("check failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                      \
    }                                                                    \
  } while (0)

constexpr size_t kControl = 12;

BufferPool& pool() {
  static std::unique_ptr<BufferPool> p = [] {
    BufferPool::Config c;
    c.name = "gso_fuzz";
    c.buffer_count = 2048;
    c.data_room = 2048;
    return BufferPool::create(c);
  }();
  return *p;
}

Packet* build(const uint8_t* data, size_t size, uint8_t split_a, uint8_t split_b) {
  BufferPool& bp = pool();
  Packet* head = nullptr;
  size_t at = 0;
  uint32_t cuts[2] = {split_a, static_cast<uint32_t>(split_a) + split_b * 7u};
  int ci = 0;
  while (at < size || head == nullptr) {
    Packet* s = bp.alloc();
    if (s == nullptr) {
      free_packet(head);
      return nullptr;
    }
    if (head != nullptr) s->move_data(-static_cast<int32_t>(s->headroom()));
    size_t n = size - at;
    if (ci < 2 && cuts[ci] > at && cuts[ci] - at < n) n = cuts[ci++] - at;
    if (n > s->tailroom()) n = s->tailroom();
    if (n > 0) std::memcpy(s->append(static_cast<uint32_t>(n)), data + at, n);
    at += n;
    if (head == nullptr) {
      head = s;
    } else {
      head->append_segment(s);
    }
  }
  return head;
}

void segment_and_check(const Packet& in, offload::GsoCsumMode mode) {
  offload::GsoConfig cfg;
  cfg.csum_mode = mode;
  cfg.max_segments = 128;
  cfg.outer_src_port_from_hash = (in.gso_size() & 1) != 0;
  offload::GsoEngine gso(pool(), cfg);
  Packet* out[128];
  uint32_t n = 0;
  offload::GsoError e = gso.segment(in, out, 128, &n);
  if (e != offload::GsoError::kOk) {
    FUZZ_CHECK(n == 0);
    return;
  }
  FUZZ_CHECK(n >= 1);
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    Packet& s = *out[i];
    FUZZ_CHECK(!s.is_gso());
    FUZZ_CHECK(chain_length(s) == s.pkt_len());
    total += s.pkt_len();
    if (s.csum_state() == CsumState::kPartial) {
      FUZZ_CHECK(csum::check_partial(s) == csum::CsumError::kOk);
      csum::finish_partial(s);
    }
    proto::parse_packet(s);
    csum::verify_all(s);
  }
  FUZZ_CHECK(total >= chain_length(in));  // headers repeat; the payload is all there
  free_packets(out, n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kControl) return 0;
  const uint16_t gso_type = static_cast<uint16_t>(data[0] | (data[1] << 8));
  const uint16_t gso_size = static_cast<uint16_t>(data[2] | (data[3] << 8));
  const uint8_t flags = data[4];
  const uint16_t csum_start = static_cast<uint16_t>(data[5] | (data[6] << 8));
  const uint8_t csum_offset = data[7];
  const uint8_t split_a = data[8], split_b = data[9];
  const uint8_t corrupt = data[10], corrupt_value = data[11];
  data += kControl;
  size -= kControl;

  Packet* p = build(data, size, (flags & 0x01) ? split_a : 0, (flags & 0x02) ? split_b : 0);
  if (p == nullptr) return 0;
  proto::parse_packet(*p);

  // Tunnel paths on the frame as it came (before the GSO metadata is set).
  if (flags & 0x40) {
    offload::Tunnel tun(offload::TunnelConfig{});
    if (flags & 0x80) {
      if (csum::make_complete(*p, static_cast<uint16_t>(csum_start % 64)) != csum::CsumError::kOk) {
        p->set_csum_none();
      }
    }
    tun.decap(*p);
  }
  switch (flags >> 2 & 3) {
    case 1:
      p->set_csum_partial(csum_start, csum_offset);
      break;
    case 2:
      csum::to_partial(*p, (flags & 0x10) ? csum::Layer::kInner : csum::Layer::kOuter);
      break;
    default:
      break;
  }
  if (flags & 0x20) {
    offload::TunnelConfig tc;
    tc.kind = static_cast<offload::TunnelKind>(corrupt % 3);
    tc.ipv6 = (corrupt & 4) != 0;
    tc.udp_csum = (corrupt & 8) != 0;
    tc.gre_csum = (corrupt & 16) != 0;
    tc.rco_tx = (corrupt & 32) != 0;
    offload::Tunnel tun(tc);
    tun.encap(*p);
  } else if (corrupt & 0x80) {
    // A hostile descriptor: one offset replaced.
    const uint16_t v = corrupt_value;
    switch (corrupt & 7) {
      case 0:
        p->set_l3_offset(v);
        break;
      case 1:
        p->set_l4_offset(v);
        break;
      case 2:
        p->set_inner_l3_offset(v);
        break;
      case 3:
        p->set_inner_l4_offset(v);
        break;
      case 4:
        p->set_inner_l2_offset(v);
        break;
      default:
        break;
    }
  }
  p->set_gso(gso_type, gso_size);
  segment_and_check(*p, offload::GsoCsumMode::kFill);
  segment_and_check(*p, offload::GsoCsumMode::kPartial);
  bool applied;
  offload::rco_decode(*p, &applied);
  free_packet(p);
  FUZZ_CHECK(pool().stats().in_use == 0);
  FUZZ_CHECK(pool().stats().bad_frees == 0);
  return 0;
}
