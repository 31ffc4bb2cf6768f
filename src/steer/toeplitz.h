#pragma once

// The Toeplitz hash of Microsoft's Receive Side Scaling, as NICs, Linux (RSS/RFS, virtio-net
// hash report) and DPDK (rte_softrss) compute it.
//
// For every set bit b of the input (bit 0 = most significant bit of byte 0), the 32 key
// bits starting at key bit b are XORed into the result. A key of k bytes therefore hashes
// inputs of up to k - 4 bytes: the 40-byte key of NICs covers IPv6 + ports (36 bytes);
// virtio-net allows keys of up to 52 bytes (VIRTIO_NET_RSS_MAX_KEY_SIZE).
//
// ToeplitzKey keeps a key zero-extended to kMaxKeyLen bytes, so any input of up to
// kMaxInputLen bytes hashes without reading past the key (a short key acts as if padded
// with zero bytes), plus what the fast variants precompute from it:
//  - kReference: the definition, bit by bit. Slow; the oracle of the tests.
//  - kTable: one 256-entry table of 32-bit partial hashes per input byte position; the
//    hash is one load and one XOR per input byte (the classic software RSS).
//  - kGfni: AVX-512 + GFNI + VBMI. The contribution of input byte n to output byte m of
//    the hash is an 8x8 bit matrix (built from key bytes n+m and n+m+1) times the byte, so
//    VPERMB places input bytes next to each other per matrix and GF2P8AFFINEQB multiplies
//    eight of them at a time; the products are XOR-reduced. hash_pair() fills the idle
//    half of every 64-bit lane with a second input and returns two hashes for the price
//    of one.
//
// Symmetric RSS: with a key whose 16-bit pattern repeats (e.g. 0x6d5a repeated, the key of
// "Scalable TCP Session Monitoring with RSS", Woo and Park 2012), swapping the source and
// destination addresses and ports of an IPv4 or IPv6 tuple gives the same hash, so both
// directions of a connection land on one queue. kSymmetricKey is that key. The price: with
// a 16-bit period the hash depends only on the XOR of the input's 16-bit words, so there
// are at most 2^16 distinct hashes (plenty to spread over an indirection table of 128).

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "base/cpu_features.h"

namespace ferry::steer {

inline constexpr size_t kMaxKeyLen = 52;  // VIRTIO_NET_RSS_MAX_KEY_SIZE
inline constexpr size_t kNicKeyLen = 40;  // the key length of NICs and Windows RSS
inline constexpr size_t kMaxInputLen = kMaxKeyLen - 4;

// The key of Microsoft's RSS verification suite, also the default key of many NIC drivers.
inline constexpr std::array<uint8_t, kNicKeyLen> kMicrosoftKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

// 0x6d5a repeated: a symmetric key (see above).
inline constexpr std::array<uint8_t, kNicKeyLen> kSymmetricKey = [] {
  std::array<uint8_t, kNicKeyLen> k{};
  for (size_t i = 0; i < k.size(); i++)
    k[i] = (i % 2 == 0) ? 0x6d : 0x5a;
  return k;
}();

enum class ToeplitzVariant : uint8_t { kReference, kTable, kGfni };
const char* to_string(ToeplitzVariant v);

// True if this CPU can run the variant (kGfni needs AVX-512F/BW, GFNI and VBMI, and is
// refused when FERRY_CPU caps the level below avx512).
bool toeplitz_supported(ToeplitzVariant v);

// The bit-by-bit definition over a key of any length; input bits past key_len*8 - 32 see
// zero key bits. For tests and as documentation.
uint32_t toeplitz_reference(std::span<const uint8_t> key, std::span<const uint8_t> input);

class ToeplitzKey {
 public:
  // Keys longer than kMaxKeyLen are cut to it (validate first: see RssConfig).
  explicit ToeplitzKey(std::span<const uint8_t> key);
  ToeplitzKey(const ToeplitzKey&) = delete;
  ToeplitzKey& operator=(const ToeplitzKey&) = delete;

  std::span<const uint8_t> key() const { return {bytes_.data(), key_len_}; }

  // The best variant this CPU supports (chosen once per process).
  static ToeplitzVariant best_variant();

  // Hash of input[0, len); len is clamped to kMaxInputLen. Uses best_variant().
  uint32_t hash(const uint8_t* input, size_t len) const {
    return gfni_ ? hash_gfni(input, len) : hash_table(input, len);
  }
  // Two hashes at once (GFNI halves the cost; otherwise two table lookups).
  void hash_pair(const uint8_t* a, size_t a_len, const uint8_t* b, size_t b_len, uint32_t* hash_a,
                 uint32_t* hash_b) const;

  uint32_t hash(ToeplitzVariant v, const uint8_t* input, size_t len) const;
  uint32_t hash_reference(const uint8_t* input, size_t len) const;
  uint32_t hash_table(const uint8_t* input, size_t len) const {
    if (len > kMaxInputLen) len = kMaxInputLen;
    const uint32_t* t = table_.get();
    uint32_t h = 0;
    for (size_t i = 0; i < len; i++)
      h ^= t[i * 256 + input[i]];
    return h;
  }
  // Only where toeplitz_supported(kGfni).
  uint32_t hash_gfni(const uint8_t* input, size_t len) const;

 private:
  std::array<uint8_t, 72> bytes_{};  // zero-extended (GFNI reads up to byte 64)
  size_t key_len_ = 0;
  bool gfni_ = false;
  std::unique_ptr<uint32_t[]> table_;  // [kMaxInputLen][256]
  // GFNI: the 8x8 matrix of key bytes (k, k+1) for k = 0 .. 63, 64-byte aligned.
  std::unique_ptr<uint64_t[]> matrices_storage_;
  const uint64_t* matrices_ = nullptr;
};

}  // namespace ferry::steer
