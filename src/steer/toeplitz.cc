#include "steer/toeplitz.h"

#include <algorithm>
#include <cstring>

#include "steer/toeplitz_kernels.h"

namespace ferry::steer {

const char* to_string(ToeplitzVariant v) {
  switch (v) {
    case ToeplitzVariant::kReference:
      return "reference";
    case ToeplitzVariant::kTable:
      return "table";
    case ToeplitzVariant::kGfni:
      return "gfni";
  }
  return "?";
}

namespace {

bool cpu_has_vbmi() {
  static const bool vbmi = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vbmi") != 0;
  }();
  return vbmi;
}

}  // namespace

bool toeplitz_supported(ToeplitzVariant v) {
  if (v != ToeplitzVariant::kGfni) return true;
  const CpuFeatures& f = cpu_features();
  return simd_level() == SimdLevel::kAvx512 && f.avx512f && f.avx512bw && f.gfni && cpu_has_vbmi();
}

uint32_t toeplitz_reference(std::span<const uint8_t> key, std::span<const uint8_t> input) {
  auto key_bit = [&](size_t bit) -> uint32_t {
    size_t byte = bit / 8;
    if (byte >= key.size()) return 0;
    return (key[byte] >> (7 - bit % 8)) & 1u;
  };
  uint32_t hash = 0;
  for (size_t b = 0; b < input.size() * 8; b++) {
    if (((input[b / 8] >> (7 - b % 8)) & 1u) == 0) continue;
    uint32_t window = 0;
    for (size_t t = 0; t < 32; t++)
      window = (window << 1) | key_bit(b + t);
    hash ^= window;
  }
  return hash;
}

ToeplitzVariant ToeplitzKey::best_variant() {
  static const ToeplitzVariant v =
      toeplitz_supported(ToeplitzVariant::kGfni) ? ToeplitzVariant::kGfni : ToeplitzVariant::kTable;
  return v;
}

ToeplitzKey::ToeplitzKey(std::span<const uint8_t> key) {
  key_len_ = std::min(key.size(), kMaxKeyLen);
  if (key_len_ > 0) std::memcpy(bytes_.data(), key.data(), key_len_);

  // The 32 key bits starting at every bit position of the (zero-extended) key.
  auto window = [&](size_t bit) {
    size_t byte = bit / 8;
    uint64_t w = 0;
    for (size_t i = 0; i < 5; i++)
      w = (w << 8) | bytes_[byte + i];
    return static_cast<uint32_t>(w >> (8 - bit % 8));
  };
  table_ = std::make_unique<uint32_t[]>(kMaxInputLen * 256);
  for (size_t pos = 0; pos < kMaxInputLen; pos++) {
    uint32_t bit_hash[8];  // bit_hash[s]: the contribution of bit s (MSB first) of the byte
    for (size_t s = 0; s < 8; s++)
      bit_hash[s] = window(pos * 8 + s);
    uint32_t* row = &table_[pos * 256];
    row[0] = 0;
    // Each entry is the XOR of the contributions of its set bits; build by lowest bit.
    for (unsigned v = 1; v < 256; v++) {
      unsigned low = static_cast<unsigned>(__builtin_ctz(v));
      row[v] = row[v & (v - 1)] ^ bit_hash[7 - low];
    }
  }

  // GF2P8AFFINEQB computes result bit i as parity(matrix byte [7 - i] AND x). Output bit
  // u (MSB first) of output byte m for input byte n, bit s (MSB first), takes key bit
  // 8(n+m) + s + u; with W the 16 key bits at byte k = n+m, row u is (W >> (8 - u)).
  matrices_storage_ = std::make_unique<uint64_t[]>(64 + 8);
  uint64_t* m = matrices_storage_.get();
  while (reinterpret_cast<uintptr_t>(m) % 64 != 0)
    m++;
  for (size_t k = 0; k < 64; k++) {
    uint32_t w = (uint32_t{bytes_[k]} << 8) | bytes_[k + 1];
    uint64_t q = 0;
    for (unsigned u = 0; u < 8; u++)
      q |= uint64_t{(w >> (8 - u)) & 0xffu} << (8 * u);
    m[k] = q;
  }
  matrices_ = m;
  gfni_ = best_variant() == ToeplitzVariant::kGfni;
}

uint32_t ToeplitzKey::hash_reference(const uint8_t* input, size_t len) const {
  return toeplitz_reference(key(), {input, std::min(len, kMaxInputLen)});
}

uint32_t ToeplitzKey::hash_gfni(const uint8_t* input, size_t len) const {
  return detail::toeplitz_gfni(matrices_, input, std::min(len, kMaxInputLen));
}

uint32_t ToeplitzKey::hash(ToeplitzVariant v, const uint8_t* input, size_t len) const {
  switch (v) {
    case ToeplitzVariant::kReference:
      return hash_reference(input, len);
    case ToeplitzVariant::kTable:
      return hash_table(input, len);
    case ToeplitzVariant::kGfni:
      return hash_gfni(input, len);
  }
  return 0;
}

void ToeplitzKey::hash_pair(const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len,
                            uint32_t* hash_a, uint32_t* hash_b) const {
  if (gfni_) {
    uint64_t both = detail::toeplitz_gfni_pair(matrices_, a, std::min(a_len, kMaxInputLen), b,
                                               std::min(b_len, kMaxInputLen));
    *hash_a = static_cast<uint32_t>(both);
    *hash_b = static_cast<uint32_t>(both >> 32);
    return;
  }
  *hash_a = hash_table(a, a_len);
  *hash_b = hash_table(b, b_len);
}

}  // namespace ferry::steer
