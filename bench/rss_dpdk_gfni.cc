// Compiled with -mavx512f -mavx512bw -mgfni so that <rte_thash.h> defines rte_thash_gfni.
#include <rte_thash.h>

#include "rss_dpdk.h"

#ifdef RTE_THASH_GFNI_DEFINED
bool dpdk_gfni_available() {
  return __builtin_cpu_supports("gfni") && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vbmi");
}
void dpdk_gfni_matrices(const uint8_t* key, int key_len, uint64_t* matrices) {
  rte_thash_complete_matrix(matrices, key, key_len);
}
uint32_t dpdk_gfni_many(const uint64_t* matrices, const uint8_t* inputs, size_t n, size_t stride,
                        int len) {
  uint32_t acc = 0;
  for (size_t i = 0; i < n; i++)
    acc ^= rte_thash_gfni(matrices, inputs + i * stride, len);
  return acc;
}
uint32_t dpdk_gfni_bulk_many(const uint64_t* matrices, const uint8_t* inputs, size_t n,
                             size_t stride, int len) {
  uint32_t acc = 0;
  uint8_t* ptrs[32];
  uint32_t vals[32];
  for (size_t base = 0; base < n; base += 32) {
    const uint32_t m = static_cast<uint32_t>(n - base < 32 ? n - base : 32);
    for (uint32_t i = 0; i < m; i++)
      ptrs[i] = const_cast<uint8_t*>(inputs + (base + i) * stride);
    rte_thash_gfni_bulk(matrices, len, ptrs, vals, m);
    for (uint32_t i = 0; i < m; i++)
      acc ^= vals[i];
  }
  return acc;
}
#else
bool dpdk_gfni_available() {
  return false;
}
void dpdk_gfni_matrices(const uint8_t*, int, uint64_t*) {}
uint32_t dpdk_gfni_many(const uint64_t*, const uint8_t*, size_t, size_t, int) {
  return 0;
}
uint32_t dpdk_gfni_bulk_many(const uint64_t*, const uint8_t*, size_t, size_t, int) {
  return 0;
}
#endif
