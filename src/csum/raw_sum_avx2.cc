// The AVX2 checksum kernel. Each 32-byte vector is split into its even and odd 16-bit
// words, zero-extended into 32-bit lanes (an AND and a shift) and added into lane
// accumulators; four vectors per iteration, two accumulator pairs. The head up to a
// 32-byte boundary is summed apart (at an odd head length the aligned part's sum is
// byte-swapped), so the main loop only does aligned loads.

#include <immintrin.h>

#include "csum/raw_sum_kernels.h"

namespace ferry::csum {
namespace {

// A 32-bit lane takes at most 0xffff per add; 2 adds per iteration and lane, so after
// 2^15 iterations (4 MiB) the lanes are flushed into 64-bit totals.
constexpr size_t kMaxIterations = size_t{1} << 15;

inline uint64_t lanes_total(__m256i v) {
  __m256i lo = _mm256_and_si256(v, _mm256_set1_epi64x(0xffffffff));
  __m256i hi = _mm256_srli_epi64(v, 32);
  __m256i s = _mm256_add_epi64(lo, hi);
  __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(t)) +
         static_cast<uint64_t>(_mm_extract_epi64(t, 1));
}

// Sum of `len` bytes from the 32-byte aligned `p`.
uint64_t sum_aligned(const uint8_t* p, size_t len) {
  const __m256i mask = _mm256_set1_epi32(0xffff);
  uint64_t total = 0;
  while (len >= 128) {
    size_t iterations = len / 128;
    if (iterations > kMaxIterations) iterations = kMaxIterations;
    len -= iterations * 128;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, b0 = a0, b1 = a0;
    for (size_t i = 0; i < iterations; i++) {
      __m256i v0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
      __m256i v1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 32));
      __m256i v2 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 64));
      __m256i v3 = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 96));
      a0 = _mm256_add_epi32(a0, _mm256_and_si256(v0, mask));
      b0 = _mm256_add_epi32(b0, _mm256_srli_epi32(v0, 16));
      a1 = _mm256_add_epi32(a1, _mm256_and_si256(v1, mask));
      b1 = _mm256_add_epi32(b1, _mm256_srli_epi32(v1, 16));
      a0 = _mm256_add_epi32(a0, _mm256_and_si256(v2, mask));
      b0 = _mm256_add_epi32(b0, _mm256_srli_epi32(v2, 16));
      a1 = _mm256_add_epi32(a1, _mm256_and_si256(v3, mask));
      b1 = _mm256_add_epi32(b1, _mm256_srli_epi32(v3, 16));
      p += 128;
    }
    total += lanes_total(a0) + lanes_total(a1) + lanes_total(b0) + lanes_total(b1);
  }
  if (len >= 32) {
    __m256i a = _mm256_setzero_si256(), b = a;
    while (len >= 32) {
      __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
      a = _mm256_add_epi32(a, _mm256_and_si256(v, mask));
      b = _mm256_add_epi32(b, _mm256_srli_epi32(v, 16));
      p += 32;
      len -= 32;
    }
    total += lanes_total(a) + lanes_total(b);
  }
  return total + sum_short(p, len);
}

}  // namespace

uint32_t raw_sum_avx2(const void* data, size_t len, uint32_t initial) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (len < 32) return add32(fold64(sum_short(p, len)), initial);
  size_t head = (-reinterpret_cast<uintptr_t>(p)) & 31;
  uint32_t head_sum = fold64(sum_short(p, head));
  uint32_t body = fold64(sum_aligned(p + head, len - head));
  if (head & 1) body = swap32(body);
  return add32(add32(head_sum, body), initial);
}

}  // namespace ferry::csum
