// The AVX-512BW checksum kernel. It works on the 64-byte aligned blocks that cover the
// buffer: the first and the last are read with byte-masked loads (the masked-off bytes
// are not accessed), so there is no scalar head or tail and the main loop only does
// aligned loads. Words are then paired from the aligned address; if the buffer starts at
// an odd address that is the other byte of each word, fixed by one byte swap at the end.
// Each vector is split into even and odd 16-bit words zero-extended to 32-bit lanes and
// added into lane accumulators, four vectors per iteration.

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() and trip
// -Wmaybe-uninitialized (GCC PR 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include "csum/raw_sum_kernels.h"

namespace ferry::csum {
namespace {

// Lanes take at most 2 * 0xffff per iteration; flush every 2^15 iterations (8 MiB).
constexpr size_t kMaxIterations = size_t{1} << 15;

inline __m512i widen_add(__m512i total, __m512i lanes32) {
  total = _mm512_add_epi64(total, _mm512_and_si512(lanes32, _mm512_set1_epi64(0xffffffff)));
  return _mm512_add_epi64(total, _mm512_srli_epi64(lanes32, 32));
}

// Horizontal sum of the 64-bit lanes (GCC 12's _mm512_reduce_add_epi64 trips
// -Wmaybe-uninitialized).
inline uint64_t lanes_total(__m512i t) {
  t = _mm512_add_epi64(t, _mm512_shuffle_i64x2(t, t, 0x4e));
  t = _mm512_add_epi64(t, _mm512_shuffle_i64x2(t, t, 0xb1));
  __m128i x = _mm512_castsi512_si128(t);
  return static_cast<uint64_t>(_mm_cvtsi128_si64(x)) +
         static_cast<uint64_t>(_mm_extract_epi64(x, 1));
}

inline uint64_t mask_first(size_t n) {
  return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
}

}  // namespace

uint32_t raw_sum_avx512(const void* data, size_t len, uint32_t initial) {
  if (len == 0) return initial;
  const uintptr_t addr = reinterpret_cast<uintptr_t>(data);
  const size_t skew = addr & 63;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(addr - skew);
  size_t n = skew + len;  // bytes from p to the end

  const __m512i mask = _mm512_set1_epi32(0xffff);
  __m512i a0 = _mm512_maskz_loadu_epi8(~uint64_t{0} << skew & mask_first(n), p);
  __m512i b0 = _mm512_srli_epi32(a0, 16);
  a0 = _mm512_and_si512(a0, mask);
  __m512i a1 = _mm512_setzero_si512(), b1 = a1;
  __m512i total = _mm512_setzero_si512();
  if (n > 64) {
    p += 64;
    n -= 64;
    while (n >= 256) {
      size_t iterations = n / 256;
      if (iterations > kMaxIterations) iterations = kMaxIterations;
      n -= iterations * 256;
      for (size_t i = 0; i < iterations; i++) {
        __m512i v0 = _mm512_load_si512(p);
        __m512i v1 = _mm512_load_si512(p + 64);
        __m512i v2 = _mm512_load_si512(p + 128);
        __m512i v3 = _mm512_load_si512(p + 192);
        a0 = _mm512_add_epi32(a0, _mm512_and_si512(v0, mask));
        b0 = _mm512_add_epi32(b0, _mm512_srli_epi32(v0, 16));
        a1 = _mm512_add_epi32(a1, _mm512_and_si512(v1, mask));
        b1 = _mm512_add_epi32(b1, _mm512_srli_epi32(v1, 16));
        a0 = _mm512_add_epi32(a0, _mm512_and_si512(v2, mask));
        b0 = _mm512_add_epi32(b0, _mm512_srli_epi32(v2, 16));
        a1 = _mm512_add_epi32(a1, _mm512_and_si512(v3, mask));
        b1 = _mm512_add_epi32(b1, _mm512_srli_epi32(v3, 16));
        p += 256;
      }
      total = widen_add(widen_add(total, a0), b0);
      total = widen_add(widen_add(total, a1), b1);
      a0 = a1 = b0 = b1 = _mm512_setzero_si512();
    }
    while (n >= 64) {
      __m512i v = _mm512_load_si512(p);
      a1 = _mm512_add_epi32(a1, _mm512_and_si512(v, mask));
      b1 = _mm512_add_epi32(b1, _mm512_srli_epi32(v, 16));
      p += 64;
      n -= 64;
    }
    if (n > 0) {
      __m512i v = _mm512_maskz_loadu_epi8(mask_first(n), p);
      a1 = _mm512_add_epi32(a1, _mm512_and_si512(v, mask));
      b1 = _mm512_add_epi32(b1, _mm512_srli_epi32(v, 16));
    }
  }
  total = widen_add(widen_add(total, a0), b0);
  total = widen_add(widen_add(total, a1), b1);
  uint32_t sum = fold64(lanes_total(total));
  if (skew & 1) sum = swap32(sum);
  return add32(sum, initial);
}

}  // namespace ferry::csum
