// Fuzzes the checksum engine with hostile packets and metadata: random frames, parse
// offsets and types, csum_start/csum_offset, chains of random segment lengths (each in an
// exactly sized buffer), through every fill/verify/offload-state function. The SIMD
// kernels must agree with each other on every input.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "csum/offload_state.h"
#include "csum/packet_checksum.h"
#include "csum/raw_sum.h"

namespace {

using namespace ferry;
using namespace ferry::csum;

struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    n--;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>(byte() | byte() << 8); }
};

void check_kernels(const uint8_t* data, size_t len) {
  uint32_t initial = len > 4 ? data[0] * 0x01010101u : 0;
  uint16_t want = fold(raw_sum_scalar(data, len, initial));
  for (const RawSumKernel& k : raw_sum_kernels()) {
    for (size_t skip = 0; skip < 3 && skip <= len; skip++) {
      uint16_t a = fold(k.fn(data + skip, len - skip, initial));
      uint16_t b = fold(raw_sum_scalar(data + skip, len - skip, initial));
      if (a != b) __builtin_trap();
    }
    if (fold(k.fn(data, len, initial)) != want) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  const uint8_t ops = in.byte();
  const uint16_t csum_start = in.u16() % 2048;
  const uint16_t csum_offset = in.u16() % 2048;
  PacketType type(static_cast<uint32_t>(in.u16()) | static_cast<uint32_t>(in.u16()) << 16);
  uint16_t offsets[5];
  for (uint16_t& o : offsets) {
    uint8_t b = in.byte();
    o = b == 0xff ? kNoOffset : b;
  }
  uint8_t split_seed = in.byte();
  const uint8_t* frame = in.p;
  const size_t len = in.n > 4096 ? 4096 : in.n;
  check_kernels(frame, len);

  // Segments: lengths from the seed, each segment its own exactly sized buffer.
  std::vector<std::unique_ptr<uint8_t[]>> bufs;
  std::vector<std::unique_ptr<Packet>> segs;
  size_t at = 0;
  uint32_t state = split_seed * 2654435761u + 1;
  do {
    size_t n = len - at;
    if (split_seed != 0) {
      state = state * 1103515245u + 12345u;
      n = 1 + (state >> 16) % 97;
      if (n > len - at) n = len - at;
    }
    bufs.push_back(std::make_unique<uint8_t[]>(n == 0 ? 1 : n));
    segs.push_back(std::make_unique<Packet>());
    segs.back()->init(bufs.back().get(), static_cast<uint32_t>(n), 0, kNoPool);
    if (n > 0) std::memcpy(segs.back()->append(static_cast<uint32_t>(n)), frame + at, n);
    if (segs.size() > 1) segs.front()->append_segment(segs.back().get());
    at += n;
  } while (at < len);
  Packet& p = *segs.front();
  p.set_packet_type(type);
  p.set_l3_offset(offsets[0]);
  p.set_l4_offset(offsets[1]);
  p.set_inner_l2_offset(offsets[2]);
  p.set_inner_l3_offset(offsets[3]);
  p.set_inner_l4_offset(offsets[4]);

  (void)verify_all(p);
  if (ops & 1) (void)fill_all(p);
  if (ops & 2) {
    p.set_csum_partial(csum_start, csum_offset);
    // finish_partial fails only for the reasons check_partial gives.
    if (finish_partial(p) != CsumError::kOk && check_partial(p) == CsumError::kOk) {
      __builtin_trap();
    }
  }
  if (ops & 4) {
    p.set_csum_none();
    if (make_complete(p, csum_start) == CsumError::kOk) {
      (void)verify_l4_complete(p, Layer::kOuter);
      (void)verify_l4_complete(p, Layer::kInner);
    }
  }
  if (ops & 8) {
    p.set_csum_complete(csum_start, csum_offset);
    (void)verify_l4_complete(p, (ops & 16) ? Layer::kInner : Layer::kOuter);
  }
  if (ops & 32) (void)mark_unnecessary(p);
  if (ops & 64) {
    p.set_csum_none();
    if (to_partial(p, (ops & 16) ? Layer::kInner : Layer::kOuter) == CsumError::kOk) {
      if (check_partial(p) != CsumError::kOk) __builtin_trap();
      if (finish_partial(p) != CsumError::kOk) __builtin_trap();
      if (verify_l4(p, (ops & 16) ? Layer::kInner : Layer::kOuter) != CsumError::kOk) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
