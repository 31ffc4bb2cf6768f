#pragma once

// Network byte order as types.
//
// Every multi-byte field of a wire header is a Be16/Be32/Be64: the value in memory is
// big-endian and the only way to get a host integer out is .value(). Mixing a wire field
// with a host integer is a compile error, so a missing byte swap cannot slip through (the
// idea of BESS's be16_t/be32_t). The types are trivially copyable, have alignment 1 and no
// padding, so a header view can be laid over any byte of a packet.

#include <cstdint>
#include <cstring>

namespace ferry {

template <typename T>
class BigEndian {
 public:
  constexpr BigEndian() = default;

  static constexpr BigEndian from_host(T host) {
    BigEndian be;
    be.set(host);
    return be;
  }
  // Wraps raw network-order bits (as they sit in memory) without swapping.
  static constexpr BigEndian from_raw(T raw) {
    BigEndian be;
    for (unsigned i = 0; i < sizeof(T); i++)
      be.bytes_[i] = static_cast<uint8_t>(raw >> (8 * i));
    return be;
  }

  constexpr T value() const {
    T v = 0;
    for (unsigned i = 0; i < sizeof(T); i++)
      v = static_cast<T>((v << 8) | bytes_[i]);
    return v;
  }
  constexpr void set(T host) {
    for (unsigned i = 0; i < sizeof(T); i++) {
      bytes_[i] = static_cast<uint8_t>(host >> (8 * (sizeof(T) - 1 - i)));
    }
  }
  // The bits as they sit in memory, read as a host integer (for checksums and hashing).
  constexpr T raw() const {
    T v = 0;
    for (unsigned i = 0; i < sizeof(T); i++)
      v |= static_cast<T>(T{bytes_[i]} << (8 * i));
    return v;
  }

  friend constexpr bool operator==(BigEndian a, BigEndian b) = default;

 private:
  uint8_t bytes_[sizeof(T)] = {};
};

using Be16 = BigEndian<uint16_t>;
using Be32 = BigEndian<uint32_t>;
using Be64 = BigEndian<uint64_t>;

static_assert(sizeof(Be16) == 2 && alignof(Be16) == 1);
static_assert(sizeof(Be32) == 4 && alignof(Be32) == 1);

// Unaligned loads and stores of host integers from packet bytes.
template <typename T>
inline T load_unaligned(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
inline void store_unaligned(void* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

inline uint16_t load_be16(const void* p) {
  return __builtin_bswap16(load_unaligned<uint16_t>(p));
}
inline uint32_t load_be32(const void* p) {
  return __builtin_bswap32(load_unaligned<uint32_t>(p));
}
inline void store_be16(void* p, uint16_t v) {
  store_unaligned(p, __builtin_bswap16(v));
}
inline void store_be32(void* p, uint32_t v) {
  store_unaligned(p, __builtin_bswap32(v));
}

}  // namespace ferry
