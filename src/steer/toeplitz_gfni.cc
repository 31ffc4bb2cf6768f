// Toeplitz hash with GF2P8AFFINEQB (see toeplitz.h for the idea).
//
// Lane k (= 8z + l in register z) holds the matrix of key bytes (k, k+1). Its bytes j = 0..3
// hold input bytes k - j, so byte j of the product is the contribution of input byte k - j
// to output byte j of the hash; XORing all lanes gives the hash, one output byte per j.
// In pair mode bytes 4..7 of every lane do the same for a second input.

// GCC 12's AVX-512 extract intrinsics trip -Wuninitialized (GCC PR 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <array>

#include "steer/toeplitz_kernels.h"

namespace ferry::steer::detail {

namespace {

constexpr int kRegs = 7;  // lanes k = 0 .. 55 cover inputs of up to 53 bytes

struct Permutes {
  alignas(64) uint8_t index[kRegs][64];
  uint64_t mask_single[kRegs];
  uint64_t mask_pair[kRegs];
};

constexpr Permutes make_permutes() {
  Permutes p{};
  for (int z = 0; z < kRegs; z++) {
    p.mask_single[z] = 0;
    p.mask_pair[z] = 0;
    for (int l = 0; l < 8; l++) {
      for (int j = 0; j < 8; j++) {
        int pos = 8 * l + j;
        int src = 8 * z + l - (j & 3);
        bool valid = src >= 0;
        p.index[z][pos] = static_cast<uint8_t>(valid ? (src | (j >= 4 ? 64 : 0)) : 0);
        if (valid) {
          p.mask_pair[z] |= uint64_t{1} << pos;
          if (j < 4) p.mask_single[z] |= uint64_t{1} << pos;
        }
      }
    }
  }
  return p;
}

constexpr Permutes kPermutes = make_permutes();

inline __m512i load_input(const uint8_t* input, size_t len) {
  __mmask64 m = len >= 64 ? ~__mmask64{0} : (__mmask64{1} << len) - 1;
  return _mm512_maskz_loadu_epi8(m, input);
}

inline uint64_t xor_lanes(__m512i acc) {
  __m256i a = _mm256_xor_si256(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
  __m128i b = _mm_xor_si128(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  b = _mm_xor_si128(b, _mm_unpackhi_epi64(b, b));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(b));
}

}  // namespace

uint32_t toeplitz_gfni(const uint64_t* matrices, const uint8_t* input, size_t len) {
  const __m512i in = load_input(input, len);
  const int regs = static_cast<int>((len + 3 + 7) / 8);
  __m512i acc = _mm512_setzero_si512();
  for (int z = 0; z < regs; z++) {
    __m512i idx = _mm512_load_si512(kPermutes.index[z]);
    __m512i bytes = _mm512_maskz_permutexvar_epi8(kPermutes.mask_single[z], idx, in);
    __m512i mat = _mm512_load_si512(matrices + 8 * z);
    acc = _mm512_xor_si512(acc, _mm512_gf2p8affine_epi64_epi8(bytes, mat, 0));
  }
  return __builtin_bswap32(static_cast<uint32_t>(xor_lanes(acc)));
}

uint64_t toeplitz_gfni_pair(const uint64_t* matrices, const uint8_t* a, size_t a_len,
                            const uint8_t* b, size_t b_len) {
  const __m512i in_a = load_input(a, a_len);
  const __m512i in_b = load_input(b, b_len);
  const size_t len = a_len > b_len ? a_len : b_len;
  const int regs = static_cast<int>((len + 3 + 7) / 8);
  __m512i acc = _mm512_setzero_si512();
  for (int z = 0; z < regs; z++) {
    __m512i idx = _mm512_load_si512(kPermutes.index[z]);
    __m512i bytes = _mm512_maskz_permutex2var_epi8(kPermutes.mask_pair[z], in_a, idx, in_b);
    __m512i mat = _mm512_load_si512(matrices + 8 * z);
    acc = _mm512_xor_si512(acc, _mm512_gf2p8affine_epi64_epi8(bytes, mat, 0));
  }
  uint64_t v = xor_lanes(acc);
  uint64_t ha = __builtin_bswap32(static_cast<uint32_t>(v));
  uint64_t hb = __builtin_bswap32(static_cast<uint32_t>(v >> 32));
  return ha | (hb << 32);
}

}  // namespace ferry::steer::detail
