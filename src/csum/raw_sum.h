#pragma once

// The one's-complement Internet checksum (RFC 1071) over bytes in memory.
//
// Convention (that of Linux's csum_partial and DPDK's rte_raw_cksum): the 16-bit words of
// the data are read in memory order as host (little-endian) integers and added into a
// 32-bit accumulator that is not folded yet. Because one's-complement addition commutes
// with byte swapping, the folded sum read back as memory bytes is the network-order sum:
// store finish(sum) with store_unaligned<uint16_t>() into a checksum field and it is
// right. Protocol numbers and lengths, which are host integers, enter a sum in network
// order (see ip_checksum.h).
//
// Unfolded sums are only defined modulo 0xffff: two kernels may return different 32-bit
// values for the same bytes, but fold() of them is always the same, and a sum of bytes
// that are not all zero never folds to 0.
//
// The kernels (scalar, AVX2, AVX-512BW, AVX-512 VNNI) live in sibling files compiled for
// their ISA; the best one the CPU has at simd_level() (capped by FERRY_CPU) is chosen on
// the first call to raw_sum(). At level avx512 that is the VNNI kernel where the CPU has
// VNNI (one instruction less per 64 bytes).

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/cpu_features.h"

namespace ferry::csum {

static_assert(std::endian::native == std::endian::little, "checksums assume a little-endian host");

using RawSumFn = uint32_t (*)(const void* data, size_t len, uint32_t initial);

// Each returns `initial` plus the sum of the 16-bit words of [data, data + len); a
// trailing odd byte counts as a word whose second byte is zero. Call the SIMD ones only
// when raw_sum_supported() says so.
uint32_t raw_sum_scalar(const void* data, size_t len, uint32_t initial);
uint32_t raw_sum_avx2(const void* data, size_t len, uint32_t initial);
uint32_t raw_sum_avx512(const void* data, size_t len, uint32_t initial);
uint32_t raw_sum_avx512_vnni(const void* data, size_t len, uint32_t initial);

struct RawSumKernel {
  const char* name;  // "scalar", "avx2", "avx512", "avx512vnni"
  SimdLevel level;
  RawSumFn fn;
};
// Every kernel this CPU can run, slowest first (for tests and benchmarks).
std::span<const RawSumKernel> raw_sum_kernels();

// Whether this CPU can run a kernel of `level`.
bool raw_sum_supported(SimdLevel level);
// The best kernel of `level`, or nullptr if the CPU cannot run it.
RawSumFn raw_sum_variant(SimdLevel level);
// The level raw_sum() dispatches to (chosen once, from simd_level()).
SimdLevel raw_sum_level();

namespace detail {
uint32_t raw_sum_resolve(const void* data, size_t len, uint32_t initial);
inline std::atomic<RawSumFn> g_raw_sum{&raw_sum_resolve};
}  // namespace detail

// The checksum kernel of this machine.
inline uint32_t raw_sum(const void* data, size_t len, uint32_t initial = 0) {
  return detail::g_raw_sum.load(std::memory_order_relaxed)(data, len, initial);
}

// One's-complement addition of two unfolded sums (end-around carry).
constexpr uint32_t add(uint32_t a, uint32_t b) {
  uint32_t s = a + b;
  return s + (s < a);
}
// One's-complement subtraction: removes `b` from `a`.
constexpr uint32_t sub(uint32_t a, uint32_t b) {
  return add(a, ~b);
}

// Folds an unfolded sum to 16 bits (not complemented).
constexpr uint16_t fold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
// The value to store in a checksum field: the complement of the folded sum.
constexpr uint16_t finish(uint32_t sum) {
  return static_cast<uint16_t>(~fold(sum));
}

// A sum of bytes that start at an odd offset, seen from the even positions (and back).
constexpr uint32_t swap_parity(uint32_t sum) {
  return std::rotr(sum, 8);
}

// Adds the sum `block` of bytes that start `offset` bytes after the start of `sum`'s
// bytes (csum_block_add): at an odd offset the block's bytes sit in the other half of the
// words, so its sum is byte-swapped first.
constexpr uint32_t add_at(uint32_t sum, uint32_t block, size_t offset) {
  return add(sum, (offset & 1) ? swap_parity(block) : block);
}

}  // namespace ferry::csum
