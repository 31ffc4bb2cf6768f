#pragma once

// Per-ISA Toeplitz kernels (toeplitz_gfni.cc is compiled with -mavx512f -mavx512bw
// -mavx512vbmi -mgfni); toeplitz.cc dispatches.

#include <cstddef>
#include <cstdint>

namespace ferry::steer::detail {

// matrices: 64 qwords, 64-byte aligned (ToeplitzKey::matrices_). len <= kMaxInputLen.
uint32_t toeplitz_gfni(const uint64_t* matrices, const uint8_t* input, size_t len);
uint64_t toeplitz_gfni_pair(const uint64_t* matrices, const uint8_t* a, size_t a_len,
                            const uint8_t* b, size_t b_len);

}  // namespace ferry::steer::detail
