#include "rss_dpdk.h"

#include <rte_thash.h>

uint32_t dpdk_softrss_many(const uint32_t* tuples, size_t n, uint32_t words, const uint8_t* key) {
  uint32_t acc = 0;
  for (size_t i = 0; i < n; i++) {
    acc ^= rte_softrss(const_cast<uint32_t*>(tuples + i * words), words, key);
  }
  return acc;
}

uint32_t dpdk_softrss_be_many(const uint32_t* tuples, size_t n, uint32_t words,
                              const uint8_t* key_be) {
  uint32_t acc = 0;
  for (size_t i = 0; i < n; i++) {
    acc ^= rte_softrss_be(const_cast<uint32_t*>(tuples + i * words), words, key_be);
  }
  return acc;
}

void dpdk_convert_rss_key(const uint8_t* key, uint8_t* key_be, int len) {
  rte_convert_rss_key(reinterpret_cast<const uint32_t*>(key), reinterpret_cast<uint32_t*>(key_be),
                      len);
}
