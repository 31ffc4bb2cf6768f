// The AVX-512 VNNI checksum kernel (VPDPWSSD); see raw_sum_avx512_impl.h.

#include "csum/raw_sum_avx512_impl.h"

namespace ferry::csum {

uint32_t raw_sum_avx512_vnni(const void* data, size_t len, uint32_t initial) {
  return sum_avx512<true>(data, len, initial);
}

}  // namespace ferry::csum
