#pragma once

// The AVX-512 checksum kernel, shared by raw_sum_avx512.cc (AVX-512BW) and
// raw_sum_avx512_vnni.cc (AVX-512 VNNI), each compiled for its ISA; internal linkage only
// (see raw_sum_kernels.h).
//
// It works on the 64-byte aligned blocks that cover the buffer: the first and the last
// are read with byte-masked loads (masked-off bytes are not accessed), so there is no
// scalar head or tail and the main loop does aligned loads only. Words are paired from
// the aligned address; if the buffer starts at an odd address that is the other byte of
// each word, fixed by one byte swap of the result.
//
// Summing: each 16-bit word u is biased to the signed s = u - 0x8000 (one XOR), and
// VPMADDWD (or VNNI's VPDPWSSD, which also adds) against ones adds word pairs into signed
// 32-bit lanes: 3 (2 with VNNI) instructions per 64 bytes. The bias is added back once at
// the end: 0x8000 for every word of every vector summed, masked-off words included (they
// read as 0 and were biased like the others).

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() and trip
// -Wmaybe-uninitialized (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include "csum/raw_sum_kernels.h"

namespace ferry::csum {
namespace {

// A lane moves by at most 0x10000 per vector: 2^14 vectors keep the four accumulators'
// lanes and their sum within int32. Iterations take 4 vectors.
constexpr size_t kChunkIterations = size_t{1} << 12;

inline int64_t lanes_total(__m512i acc) {
  __m512i t = _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc)),
                               _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc, 1)));
  t = _mm512_add_epi64(t, _mm512_shuffle_i64x2(t, t, 0x4e));
  t = _mm512_add_epi64(t, _mm512_shuffle_i64x2(t, t, 0xb1));
  __m128i x = _mm512_castsi512_si128(t);
  return _mm_cvtsi128_si64(x) + _mm_extract_epi64(x, 1);
}

inline uint64_t mask_first(size_t n) {
  return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
}

template <bool kVnni>
inline __m512i step(__m512i acc, __m512i v) {
  const __m512i x = _mm512_xor_si512(v, _mm512_set1_epi16(static_cast<int16_t>(0x8000)));
  const __m512i ones = _mm512_set1_epi16(1);
  if constexpr (kVnni) {
    return _mm512_dpwssd_epi32(acc, x, ones);
  } else {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(x, ones));
  }
}

// Sum of the signed lanes of an accumulator that took at most a few vectors.
inline int32_t small_total(__m512i acc) {
  __m256i t = _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
  return _mm_cvtsi128_si32(x);
}

template <bool kVnni>
inline uint32_t sum_avx512(const void* data, size_t len, uint32_t initial) {
  if (len == 0) return initial;
  if (len <= 128) {
    // Short buffers (headers, small packets): one or two masked loads from the buffer
    // itself, no alignment work. Masked-off bytes are not accessed, even across a page.
    const uint8_t* b = static_cast<const uint8_t*>(data);
    __m512i acc = step<kVnni>(_mm512_setzero_si512(), _mm512_maskz_loadu_epi8(mask_first(len), b));
    uint32_t vectors = 1;
    if (len > 64) {
      acc = step<kVnni>(acc, _mm512_maskz_loadu_epi8(mask_first(len - 64), b + 64));
      vectors = 2;
    }
    uint32_t sum = static_cast<uint32_t>(small_total(acc)) + vectors * 32 * 0x8000;
    return add32(sum, initial);
  }
  const uintptr_t addr = reinterpret_cast<uintptr_t>(data);
  const size_t skew = addr & 63;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(addr - skew);
  size_t n = skew + len;  // bytes from p to the end
  const uint64_t vectors = (n + 63) / 64;

  __m512i a0 = step<kVnni>(_mm512_setzero_si512(),
                           _mm512_maskz_loadu_epi8(~uint64_t{0} << skew & mask_first(n), p));
  __m512i a1 = _mm512_setzero_si512(), a2 = a1, a3 = a1;
  int64_t total = 0;
  if (n > 64) {
    p += 64;
    n -= 64;
    while (n >= 256) {
      size_t iterations = n / 256;
      if (iterations > kChunkIterations) iterations = kChunkIterations;
      n -= iterations * 256;
      for (size_t i = 0; i < iterations; i++) {
        a0 = step<kVnni>(a0, _mm512_load_si512(p));
        a1 = step<kVnni>(a1, _mm512_load_si512(p + 64));
        a2 = step<kVnni>(a2, _mm512_load_si512(p + 128));
        a3 = step<kVnni>(a3, _mm512_load_si512(p + 192));
        p += 256;
      }
      total += lanes_total(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)));
      a0 = a1 = a2 = a3 = _mm512_setzero_si512();
    }
    while (n >= 64) {
      a1 = step<kVnni>(a1, _mm512_load_si512(p));
      p += 64;
      n -= 64;
    }
    if (n > 0) a2 = step<kVnni>(a2, _mm512_maskz_loadu_epi8(mask_first(n), p));
  }
  total += lanes_total(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)));
  uint32_t sum = fold64(static_cast<uint64_t>(total) + vectors * 32 * 0x8000);
  if (skew & 1) sum = swap32(sum);
  return add32(sum, initial);
}

}  // namespace
}  // namespace ferry::csum
