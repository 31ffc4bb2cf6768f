#include "parser_bench_dpdk.h"

#include <cstdlib>
#include <cstring>

#include <rte_mbuf.h>
#include <rte_net.h>

namespace ferry::bench {

DpdkPtype::DpdkPtype(const std::vector<std::vector<uint8_t>>& frames) : count_(frames.size()) {
  const size_t bytes = (sizeof(rte_mbuf) * count_ + 63) / 64 * 64;
  auto* m = static_cast<rte_mbuf*>(std::aligned_alloc(64, bytes > 0 ? bytes : 64));
  std::memset(static_cast<void*>(m), 0, bytes);
  for (size_t i = 0; i < count_; i++) {
    m[i].buf_addr = const_cast<uint8_t*>(frames[i].data());
    m[i].buf_len = static_cast<uint16_t>(frames[i].size());
    m[i].data_off = 0;
    m[i].data_len = static_cast<uint16_t>(frames[i].size());
    m[i].pkt_len = static_cast<uint32_t>(frames[i].size());
    m[i].nb_segs = 1;
    m[i].next = nullptr;
  }
  mbufs_ = m;
}

DpdkPtype::~DpdkPtype() {
  std::free(mbufs_);
}

uint64_t DpdkPtype::parse_all() const {
  const auto* m = static_cast<const rte_mbuf*>(mbufs_);
  uint64_t sum = 0;
  for (size_t i = 0; i < count_; i++) {
    rte_net_hdr_lens lens;
    sum += rte_net_get_ptype(&m[i], &lens, RTE_PTYPE_ALL_MASK) + lens.l4_len;
  }
  return sum;
}

}  // namespace ferry::bench
