// The AVX2 checksum kernel. The head up to a 32-byte boundary is summed apart (at an odd
// head length the aligned part's sum is byte-swapped), so the main loop does aligned
// loads only, four vectors per iteration into four accumulators. Words are biased to
// signed (u - 0x8000, one XOR) and VPMADDWD against ones adds word pairs into signed
// 32-bit lanes; the bias is added back once at the end.

#include <immintrin.h>

#include "csum/raw_sum_kernels.h"

namespace ferry::csum {
namespace {

// A lane moves by at most 0x10000 per vector: 2^14 vectors keep the four accumulators'
// lanes and their sum within int32. Iterations take 4 vectors.
constexpr size_t kChunkIterations = size_t{1} << 12;

inline int64_t lanes_total(__m256i acc) {
  __m256i t = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc)),
                               _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc, 1)));
  __m128i x = _mm_add_epi64(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
  return _mm_cvtsi128_si64(x) + _mm_extract_epi64(x, 1);
}

inline __m256i add_words(__m256i acc, __m256i v) {
  const __m256i x = _mm256_xor_si256(v, _mm256_set1_epi16(static_cast<int16_t>(0x8000)));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(x, _mm256_set1_epi16(1)));
}

inline __m256i step(__m256i acc, const uint8_t* p) {
  return add_words(acc, _mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
}

// Short buffers: unaligned loads, no head; fewer than 8 vectors keep lanes and their sum
// within int32.
inline uint32_t sum_short_vectors(const uint8_t* p, size_t len) {
  __m256i acc = _mm256_setzero_si256();
  const uint32_t vectors = static_cast<uint32_t>(len / 32);
  for (uint32_t i = 0; i < vectors; i++) {
    acc = add_words(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * i)));
  }
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
  uint64_t sum =
      static_cast<uint32_t>(_mm_cvtsi128_si32(x) + static_cast<int32_t>(vectors * 16 * 0x8000));
  return fold64(sum + sum_short(p + 32 * vectors, len % 32));
}

// Sum of `len` bytes from the 32-byte aligned `p`.
uint64_t sum_aligned(const uint8_t* p, size_t len) {
  const uint64_t vectors = len / 32;
  int64_t total = 0;
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  while (len >= 128) {
    size_t iterations = len / 128;
    if (iterations > kChunkIterations) iterations = kChunkIterations;
    len -= iterations * 128;
    for (size_t i = 0; i < iterations; i++) {
      a0 = step(a0, p);
      a1 = step(a1, p + 32);
      a2 = step(a2, p + 64);
      a3 = step(a3, p + 96);
      p += 128;
    }
    total += lanes_total(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)));
    a0 = a1 = a2 = a3 = _mm256_setzero_si256();
  }
  while (len >= 32) {
    a0 = step(a0, p);
    p += 32;
    len -= 32;
  }
  total += lanes_total(a0);
  return static_cast<uint64_t>(total) + vectors * 16 * 0x8000 + sum_short(p, len);
}

}  // namespace

uint32_t raw_sum_avx2(const void* data, size_t len, uint32_t initial) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (len < 256) return add32(sum_short_vectors(p, len), initial);
  size_t head = (-reinterpret_cast<uintptr_t>(p)) & 31;
  uint32_t head_sum = fold64(sum_short(p, head));
  uint32_t body = fold64(sum_aligned(p + head, len - head));
  if (head & 1) body = swap32(body);
  return add32(add32(head_sum, body), initial);
}

}  // namespace ferry::csum
