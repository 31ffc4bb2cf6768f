#include "gro_bench_dpdk.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include <rte_eal.h>
#include <rte_gro.h>
#include <rte_mbuf.h>
#include <rte_mbuf_ptype.h>
#include <unistd.h>

namespace ferry::bench {
namespace {

bool eal_ready() {
  static const bool ready = [] {
    std::string prefix = "--file-prefix=gro_bench_" + std::to_string(getpid());
    const char* args[] = {"gro_bench",      "--no-huge", "-m", "256",           "--no-pci",
                          "--no-telemetry", "-l",        "0",  "--log-level=3", prefix.c_str()};
    std::vector<char*> argv;
    for (const char* a : args)
      argv.push_back(const_cast<char*>(a));
    return rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0;
  }();
  return ready;
}

}  // namespace

DpdkGro::DpdkGro(const std::vector<std::vector<uint8_t>>& frames) : frames_(frames) {
  if (!eal_ready()) return;
  static int pools = 0;
  const std::string name = "gro_bench_" + std::to_string(pools++);
  auto* pool = rte_pktmbuf_pool_create(name.c_str(), static_cast<unsigned>(frames.size() + 64), 0,
                                       0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  if (pool == nullptr) return;
  pool_ = pool;
  for (size_t i = 0; i < frames.size(); i++) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) return;
    mbufs_.push_back(m);
  }
  scratch_.resize(frames.size());
  ok_ = true;
  for (size_t i = 0; i < mbufs_.size(); i++) {
    auto* m = static_cast<rte_mbuf*>(mbufs_[i]);
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), frames_[i].data(), frames_[i].size());
  }
  reset();
}

DpdkGro::~DpdkGro() {
  for (void* m : mbufs_) {
    auto* mb = static_cast<rte_mbuf*>(m);
    mb->next = nullptr;
    mb->nb_segs = 1;
    rte_pktmbuf_free_seg(mb);
  }
  if (pool_ != nullptr) rte_mempool_free(static_cast<rte_mempool*>(pool_));
}

void DpdkGro::reset() {
  for (size_t i = 0; i < mbufs_.size(); i++) {
    auto* m = static_cast<rte_mbuf*>(mbufs_[i]);
    const auto& f = frames_[i];
    m->data_off = RTE_PKTMBUF_HEADROOM;
    m->next = nullptr;
    m->nb_segs = 1;
    m->data_len = static_cast<uint16_t>(f.size());
    m->pkt_len = static_cast<uint32_t>(f.size());
    m->ol_flags = 0;
    m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP;
    m->l2_len = 14;
    m->l3_len = 20;
    m->l4_len = (f[14 + 20 + 12] >> 4) * 4;
    // The payload bytes never change; the headers of a merged head do.
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), f.data(), 14u + 20u + m->l4_len);
  }
}

uint64_t DpdkGro::run(uint32_t burst, uint16_t max_flows, uint16_t max_items) {
  rte_gro_param param{};
  param.gro_types = RTE_GRO_TCP_IPV4;
  param.max_flow_num = max_flows;
  param.max_item_per_flow = max_items;
  uint64_t out = 0;
  auto** pkts = reinterpret_cast<rte_mbuf**>(mbufs_.data());
  auto** scratch = reinterpret_cast<rte_mbuf**>(scratch_.data());
  for (size_t i = 0; i < mbufs_.size(); i += burst) {
    const uint16_t n = static_cast<uint16_t>(std::min<size_t>(burst, mbufs_.size() - i));
    std::memcpy(scratch, pkts + i, n * sizeof(rte_mbuf*));
    out += rte_gro_reassemble_burst(scratch, n, &param);
  }
  return out;
}

}  // namespace ferry::bench
