// The portable checksum kernel: 64-bit words added with carry into a 128-bit accumulator
// (add/adc), eight words per iteration.

#include "csum/raw_sum_kernels.h"

namespace ferry::csum {

uint32_t raw_sum_scalar(const void* data, size_t len, uint32_t initial) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  unsigned __int128 acc = initial;
  while (len >= 64) {
    acc += load<uint64_t>(p);
    acc += load<uint64_t>(p + 8);
    acc += load<uint64_t>(p + 16);
    acc += load<uint64_t>(p + 24);
    acc += load<uint64_t>(p + 32);
    acc += load<uint64_t>(p + 40);
    acc += load<uint64_t>(p + 48);
    acc += load<uint64_t>(p + 56);
    p += 64;
    len -= 64;
  }
  if (len >= 32) {
    acc += load<uint64_t>(p);
    acc += load<uint64_t>(p + 8);
    acc += load<uint64_t>(p + 16);
    acc += load<uint64_t>(p + 24);
    p += 32;
    len -= 32;
  }
  acc += sum_short(p, len);
  // acc < 2^128; its high half counts carries out of the low one, each worth 1.
  uint64_t lo = static_cast<uint64_t>(acc);
  uint64_t hi = static_cast<uint64_t>(acc >> 64);
  uint64_t s = lo + hi;
  s += (s < lo);
  return fold64(s);
}

}  // namespace ferry::csum
