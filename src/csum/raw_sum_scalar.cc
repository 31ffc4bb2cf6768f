// The portable checksum kernel: 32-bit words added into four independent 64-bit
// accumulators (no carries to propagate, four dependency chains), 64 bytes per iteration.

#include "csum/raw_sum_kernels.h"

namespace ferry::csum {

uint32_t raw_sum_scalar(const void* data, size_t len, uint32_t initial) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t total = initial;
  // Each accumulator takes 4 words < 2^32 per iteration: 2^28 iterations stay < 2^62.
  constexpr size_t kChunkIterations = size_t{1} << 28;
  while (len >= 64) {
    size_t iterations = len / 64;
    if (iterations > kChunkIterations) iterations = kChunkIterations;
    len -= iterations * 64;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < iterations; i++) {
      s0 += uint64_t{load<uint32_t>(p)} + load<uint32_t>(p + 16) + load<uint32_t>(p + 32) +
            load<uint32_t>(p + 48);
      s1 += uint64_t{load<uint32_t>(p + 4)} + load<uint32_t>(p + 20) + load<uint32_t>(p + 36) +
            load<uint32_t>(p + 52);
      s2 += uint64_t{load<uint32_t>(p + 8)} + load<uint32_t>(p + 24) + load<uint32_t>(p + 40) +
            load<uint32_t>(p + 56);
      s3 += uint64_t{load<uint32_t>(p + 12)} + load<uint32_t>(p + 28) + load<uint32_t>(p + 44) +
            load<uint32_t>(p + 60);
      p += 64;
    }
    total = uint64_t{fold64(total)} + fold64(s0) + fold64(s1) + fold64(s2) + fold64(s3);
  }
  if (len >= 32) {
    uint64_t s0 = 0, s1 = 0;
    for (int i = 0; i < 32; i += 8) {
      s0 += load<uint32_t>(p + i);
      s1 += load<uint32_t>(p + i + 4);
    }
    total += s0 + s1;
    p += 32;
    len -= 32;
  }
  return fold64(total + sum_short(p, len));
}

}  // namespace ferry::csum
