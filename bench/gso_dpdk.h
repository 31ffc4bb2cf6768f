#pragma once

// DPDK's rte_gso_segment() as the anchor of gso_bench, behind a plain C++ interface so
// that DPDK's headers (and their flags) stay in gso_dpdk.cc.

#include <cstdint>
#include <vector>

namespace ferry::bench {

class DpdkGso {
 public:
  struct Layout {
    uint16_t outer_l2 = 0, outer_l3 = 0;  // VXLAN only
    uint16_t l2, l3, l4;                  // for VXLAN l2 = outer UDP + VXLAN + inner Ethernet
    bool vxlan = false;
    uint16_t segment_size;  // DPDK's gso_size: whole output frame, headers included
  };
  // Starts the EAL once (--no-huge --no-pci); false if it cannot.
  static bool init_eal();

  DpdkGso(const std::vector<uint8_t>& frame, const Layout& layout);
  ~DpdkGso();
  bool ok() const { return input_ != nullptr; }

  // Segments the frame once and frees the segments; returns how many were made (<0 on
  // error). The input is kept (its reference count is raised before each call, since
  // rte_gso_segment() hands one reference to the indirect segments).
  int run();
  // Copies the segments' bytes out (for a correctness check).
  std::vector<std::vector<uint8_t>> segments();

 private:
  void* direct_ = nullptr;
  void* indirect_ = nullptr;
  void* input_pool_ = nullptr;
  void* input_ = nullptr;
  void* ctx_ = nullptr;
  uint64_t ol_flags_ = 0;
};

}  // namespace ferry::bench
