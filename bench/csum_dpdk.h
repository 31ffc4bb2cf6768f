#pragma once

// DPDK's rte_raw_cksum as an anchor for the checksum benchmark, compiled in its own file
// with DPDK's flags (csum_dpdk.cc) so that DPDK's headers stay out of Ferry's code.

#include <cstddef>
#include <cstdint>

uint16_t dpdk_raw_cksum(const void* data, size_t len);
