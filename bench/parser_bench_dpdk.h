#pragma once

// DPDK's software packet-type parser as the anchor of parser_bench. Kept apart so that only
// parser_bench_dpdk.cc sees DPDK's headers and compile flags.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace ferry::bench {

class DpdkPtype {
 public:
  // Lays out one rte_mbuf per frame (no EAL: zeroed descriptors pointing at the bytes).
  explicit DpdkPtype(const std::vector<std::vector<uint8_t>>& frames);
  ~DpdkPtype();
  DpdkPtype(const DpdkPtype&) = delete;
  DpdkPtype& operator=(const DpdkPtype&) = delete;

  // Runs rte_net_get_ptype(RTE_PTYPE_ALL_MASK) over every frame once; returns a checksum of
  // the results so the work cannot be optimised away.
  uint64_t parse_all() const;
  size_t size() const { return count_; }

 private:
  void* mbufs_ = nullptr;
  size_t count_ = 0;
};

}  // namespace ferry::bench
