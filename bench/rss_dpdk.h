#pragma once

// DPDK's software Toeplitz (rte_thash.h), compiled in rss_dpdk.cc with DPDK's own flags.
// Each function hashes n inputs and returns the XOR of the hashes (so nothing is elided).

#include <cstddef>
#include <cstdint>

// tuples: n inputs of `words` host-order 32-bit words each, back to back.
uint32_t dpdk_softrss_many(const uint32_t* tuples, size_t n, uint32_t words, const uint8_t* key);
// key_be: from dpdk_convert_rss_key().
uint32_t dpdk_softrss_be_many(const uint32_t* tuples, size_t n, uint32_t words,
                              const uint8_t* key_be);
void dpdk_convert_rss_key(const uint8_t* key, uint8_t* key_be, int len);

// rte_thash_gfni (AVX-512 + GFNI); false if this build or CPU cannot run it.
bool dpdk_gfni_available();
// matrices: room for 64 uint64_t, 64-byte aligned.
void dpdk_gfni_matrices(const uint8_t* key, int key_len, uint64_t* matrices);
// inputs: n inputs of len bytes, `stride` bytes apart, network order.
uint32_t dpdk_gfni_many(const uint64_t* matrices, const uint8_t* inputs, size_t n, size_t stride,
                        int len);
// rte_thash_gfni_bulk over the same inputs (two at a time).
uint32_t dpdk_gfni_bulk_many(const uint64_t* matrices, const uint8_t* inputs, size_t n,
                             size_t stride, int len);
