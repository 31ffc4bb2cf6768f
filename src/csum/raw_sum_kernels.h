#pragma once

// Internal to the raw_sum_*.cc kernels. Those files are compiled with ISA flags
// (-mavx2, -mavx512bw), so they must not instantiate inline functions shared with the
// rest of the program: the linker could keep their AVX copy for everyone. Everything here
// has internal linkage, and the kernels include nothing else of Ferry's.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ferry::csum {

uint32_t raw_sum_scalar(const void* data, size_t len, uint32_t initial);
uint32_t raw_sum_avx2(const void* data, size_t len, uint32_t initial);
uint32_t raw_sum_avx512(const void* data, size_t len, uint32_t initial);
uint32_t raw_sum_avx512_vnni(const void* data, size_t len, uint32_t initial);

namespace {

// 2^32 == 1 and 2^64 == 1 modulo 0xffff, so wide sums fold by adding their halves.
[[maybe_unused]] inline uint32_t fold64(uint64_t x) {
  x = (x & 0xffffffffu) + (x >> 32);
  x = (x & 0xffffffffu) + (x >> 32);
  return static_cast<uint32_t>(x);
}

[[maybe_unused]] inline uint32_t add32(uint32_t a, uint32_t b) {
  uint32_t s = a + b;
  return s + (s < a);
}

[[maybe_unused]] inline uint32_t swap32(uint32_t x) {
  return (x >> 8) | (x << 24);
}

template <typename T>
inline T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Sum of fewer than 32 bytes (as 64-bit-safe partial sum).
[[maybe_unused]] inline uint64_t sum_short(const uint8_t* p, size_t len) {
  uint64_t s = 0;
  if (len & 16) {
    s += load<uint32_t>(p);
    s += load<uint32_t>(p + 4);
    s += load<uint32_t>(p + 8);
    s += load<uint32_t>(p + 12);
    p += 16;
  }
  if (len & 8) {
    s += load<uint32_t>(p);
    s += load<uint32_t>(p + 4);
    p += 8;
  }
  if (len & 4) {
    s += load<uint32_t>(p);
    p += 4;
  }
  if (len & 2) {
    s += load<uint16_t>(p);
    p += 2;
  }
  if (len & 1) s += *p;
  return s;
}

}  // namespace
}  // namespace ferry::csum
