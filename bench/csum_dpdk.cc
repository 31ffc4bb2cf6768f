#include "csum_dpdk.h"

#include <rte_ip.h>

uint16_t dpdk_raw_cksum(const void* data, size_t len) {
  return rte_raw_cksum(data, len);
}
