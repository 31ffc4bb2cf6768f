#pragma once

// DPDK's GRO (rte_gro_reassemble_burst) as the anchor of gro_bench. Kept apart so that only
// gro_bench_dpdk.cc sees DPDK's headers and compile flags.

#include <cstdint>
#include <vector>

namespace ferry::bench {

class DpdkGro {
 public:
  // Starts the EAL once (no hugepages, no PCI) and copies each frame into an rte_mbuf of a
  // pktmbuf pool. ok() is false if the EAL or the pool could not be set up.
  explicit DpdkGro(const std::vector<std::vector<uint8_t>>& frames);
  ~DpdkGro();
  DpdkGro(const DpdkGro&) = delete;
  DpdkGro& operator=(const DpdkGro&) = delete;
  bool ok() const { return ok_; }

  // Restores every mbuf to its frame as received (lengths, chain, header bytes, the
  // packet type and header lengths rte_gro needs); not part of the timed work.
  void reset();
  // rte_gro_reassemble_burst over bursts of `burst` packets (TCP/IPv4, max_flow_num and
  // max_item_per_flow as given); returns the number of packets that came out.
  uint64_t run(uint32_t burst, uint16_t max_flows, uint16_t max_items);

 private:
  std::vector<std::vector<uint8_t>> frames_;
  std::vector<void*> mbufs_;
  std::vector<void*> scratch_;
  void* pool_ = nullptr;
  bool ok_ = false;
};

}  // namespace ferry::bench
