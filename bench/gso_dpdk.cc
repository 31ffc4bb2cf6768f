#include "gso_dpdk.h"

#include <cstdio>
#include <cstring>
#include <string>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_gso.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <unistd.h>

namespace ferry::bench {

bool DpdkGso::init_eal() {
  static int state = 0;  // 0 not tried, 1 ok, -1 failed
  if (state != 0) return state > 0;
  std::string prefix = "--file-prefix=gso_bench_" + std::to_string(getpid());
  const char* argv[] = {"gso_bench",      "--no-huge",         "-m", "256", "--no-pci",
                        "--no-telemetry", "--log-level=error", "-l", "0",   prefix.c_str()};
  int argc = sizeof(argv) / sizeof(argv[0]);
  state = rte_eal_init(argc, const_cast<char**>(argv)) >= 0 ? 1 : -1;
  return state > 0;
}

DpdkGso::DpdkGso(const std::vector<uint8_t>& frame, const Layout& l) {
  static int n = 0;
  std::string id = std::to_string(n++);
  auto* direct = rte_pktmbuf_pool_create(("gso_d" + id).c_str(), 1023, 256, 0,
                                         RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  auto* indirect = rte_pktmbuf_pool_create(("gso_i" + id).c_str(), 1023, 256, 0, 0, SOCKET_ID_ANY);
  auto* in_pool = rte_pktmbuf_pool_create(("gso_in" + id).c_str(), 7, 0, 0, 65535, SOCKET_ID_ANY);
  if (direct == nullptr || indirect == nullptr || in_pool == nullptr) return;
  direct_ = direct;
  indirect_ = indirect;
  input_pool_ = in_pool;
  rte_mbuf* m = rte_pktmbuf_alloc(in_pool);
  if (m == nullptr || frame.size() > rte_pktmbuf_tailroom(m)) return;
  std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
              frame.size());
  m->l2_len = l.l2;
  m->l3_len = l.l3;
  m->l4_len = l.l4;
  m->ol_flags = RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
  auto* ctx = new rte_gso_ctx{};
  ctx->direct_pool = direct;
  ctx->indirect_pool = indirect;
  ctx->flag = 0;
  ctx->gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO;
  ctx->gso_size = l.segment_size;
  if (l.vxlan) {
    m->outer_l2_len = l.outer_l2;
    m->outer_l3_len = l.outer_l3;
    m->ol_flags |=
        RTE_MBUF_F_TX_TUNNEL_VXLAN | RTE_MBUF_F_TX_OUTER_IPV4 | RTE_MBUF_F_TX_OUTER_IP_CKSUM;
    ctx->gso_types = RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO;
  }
  ctx_ = ctx;
  ol_flags_ = m->ol_flags;
  input_ = m;
}

DpdkGso::~DpdkGso() {
  if (input_ != nullptr) rte_pktmbuf_free(static_cast<rte_mbuf*>(input_));
  delete static_cast<rte_gso_ctx*>(ctx_);
  rte_mempool_free(static_cast<rte_mempool*>(input_pool_));
  rte_mempool_free(static_cast<rte_mempool*>(indirect_));
  rte_mempool_free(static_cast<rte_mempool*>(direct_));
}

int DpdkGso::run() {
  auto* m = static_cast<rte_mbuf*>(input_);
  rte_mbuf* out[128];
  m->ol_flags = ol_flags_;  // rte_gso_segment() clears the TSO flag of its input
  rte_mbuf_refcnt_update(m, 1);
  int n = rte_gso_segment(m, static_cast<rte_gso_ctx*>(ctx_), out, 128);
  if (n <= 0) {
    rte_mbuf_refcnt_update(m, -1);
    return n;
  }
  if (n == 1 && out[0] == m) {
    rte_mbuf_refcnt_update(m, -1);
    return 1;
  }
  rte_pktmbuf_free_bulk(out, static_cast<unsigned>(n));
  return n;
}

std::vector<std::vector<uint8_t>> DpdkGso::segments() {
  auto* m = static_cast<rte_mbuf*>(input_);
  rte_mbuf* out[128];
  m->ol_flags = ol_flags_;  // rte_gso_segment() clears the TSO flag of its input
  rte_mbuf_refcnt_update(m, 1);
  int n = rte_gso_segment(m, static_cast<rte_gso_ctx*>(ctx_), out, 128);
  std::vector<std::vector<uint8_t>> segs;
  for (int i = 0; i < n; i++) {
    std::vector<uint8_t> b(rte_pktmbuf_pkt_len(out[i]));
    const auto* p = static_cast<const uint8_t*>(
        rte_pktmbuf_read(out[i], 0, static_cast<uint32_t>(b.size()), b.data()));
    if (p != b.data()) std::memcpy(b.data(), p, b.size());
    segs.push_back(std::move(b));
  }
  if (n > 1) {
    rte_pktmbuf_free_bulk(out, static_cast<unsigned>(n));
  } else {
    rte_mbuf_refcnt_update(m, -1);
  }
  return segs;
}

}  // namespace ferry::bench
