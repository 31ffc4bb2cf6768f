// GSO throughput: a 64 KB TCPv4 frame cut into 1448-byte segments, and the same over
// VXLAN with a 1500-byte outer MTU (inner MSS 1398). Ferry copies each payload slice into
// a fresh buffer (kPartial: the TCP checksum left for the next hop, as DPDK does; kFill:
// checksums computed during the copy). DPDK's rte_gso_segment(), when DPDK is installed,
// attaches the payload as indirect mbufs (no copy) and computes no checksum at all.
// After the Google Benchmark runs, a best-of-N measurement prints the Ferry/DPDK ratio.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include <linux/if_ether.h>

#include <benchmark/benchmark.h>

#include "base/byteorder.h"
#include "csum/ip_checksum.h"
#include "offload/gso.h"
#include "offload/tunnel.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "proto/parser.h"

#ifdef FERRY_HAVE_DPDK
#include "gso_dpdk.h"
#endif

namespace {

using namespace ferry;  // NOLINT(google-build-using-namespace)

constexpr uint16_t kMss = 1448;
constexpr uint16_t kVxlanMss = 1500 - 20 - 8 - 8 - 14 - 20 - 32;  // 1398

std::vector<uint8_t> tcp_frame(uint32_t payload) {
  const uint32_t l4_len = 32 + payload;
  std::vector<uint8_t> f(14 + 20 + l4_len, 0);
  const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
  std::memcpy(f.data(), macs, 12);
  store_be16(&f[12], ETH_P_IP);
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  store_be16(ip + 2, static_cast<uint16_t>(20 + l4_len));
  store_be16(ip + 4, 1);
  ip[6] = 0x40;
  ip[8] = 64;
  ip[9] = 6;
  const uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
  std::memcpy(ip + 12, addrs, 8);
  csum::ipv4_header_fill(ip, 20);
  uint8_t* tcp = ip + 20;
  store_be16(tcp, 40000);
  store_be16(tcp + 2, 5201);
  store_be32(tcp + 4, 1);
  tcp[12] = 0x80;
  tcp[13] = 0x18;
  store_be16(tcp + 14, 512);
  const uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  std::memcpy(tcp + 20, ts, 12);
  store_unaligned<uint16_t>(tcp + 16, csum::fold(csum::pseudo_sum_ipv4(
                                          ip + 12, ip + 16, 6, static_cast<uint16_t>(l4_len))));
  for (uint32_t i = 0; i < payload; i++)
    tcp[32 + i] = static_cast<uint8_t>(i * 131 + 7);
  return f;
}

// The input as one 64 KB buffer (like DPDK's single large mbuf), parsed and marked TSO.
struct Input {
  std::vector<uint8_t> buf;
  Packet pkt;
  std::vector<uint8_t> bytes;  // the frame as segmented (after encapsulation)

  Input(bool vxlan) : buf(70000 + 256) {
    const uint32_t payload = vxlan ? 45u * kVxlanMss : 44u * kMss;
    std::vector<uint8_t> f = tcp_frame(payload);
    pkt.init(buf.data(), static_cast<uint32_t>(buf.size()), 256, kNoPool);
    std::memcpy(pkt.append(static_cast<uint32_t>(f.size())), f.data(), f.size());
    proto::parse_packet(pkt);
    pkt.set_gso(kGsoTcpv4, vxlan ? kVxlanMss : kMss);
    pkt.set_csum_partial(pkt.l4_offset(), 16);
    if (vxlan) {
      offload::TunnelConfig tc;
      tc.src_ip4 = {192, 168, 0, 1};
      tc.dst_ip4 = {192, 168, 0, 2};
      tc.udp_csum = false;  // DPDK's VXLAN GSO leaves the outer UDP checksum alone
      offload::Tunnel tun(tc);
      tun.encap(pkt);
    }
    bytes = packet_to_bytes(pkt);
  }
};

BufferPool& pool() {
  static std::unique_ptr<BufferPool> p = [] {
    BufferPool::Config c;
    c.name = "gso_bench";
    c.buffer_count = 1024;
    return BufferPool::create(c);
  }();
  return *p;
}

uint32_t ferry_once(offload::GsoEngine& gso, const Packet& in) {
  Packet* out[128];
  uint32_t n = 0;
  gso.segment(in, out, 128, &n);
  free_packets(out, n);
  return n;
}

void BM_Ferry(benchmark::State& state, bool vxlan, offload::GsoCsumMode mode) {
  Input in(vxlan);
  offload::GsoEngine gso(pool(), offload::GsoConfig{.csum_mode = mode});
  uint64_t segs = 0;
  for (auto _ : state)
    segs += ferry_once(gso, in.pkt);
  state.counters["segments/s"] =
      benchmark::Counter(static_cast<double>(segs), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.bytes.size()));
}
BENCHMARK_CAPTURE(BM_Ferry, tcp4_partial, false, offload::GsoCsumMode::kPartial);
BENCHMARK_CAPTURE(BM_Ferry, tcp4_fill, false, offload::GsoCsumMode::kFill);
BENCHMARK_CAPTURE(BM_Ferry, vxlan_partial, true, offload::GsoCsumMode::kPartial);
BENCHMARK_CAPTURE(BM_Ferry, vxlan_fill, true, offload::GsoCsumMode::kFill);

#ifdef FERRY_HAVE_DPDK
std::unique_ptr<bench::DpdkGso> make_dpdk(const Input& in, bool vxlan) {
  if (!bench::DpdkGso::init_eal()) return nullptr;
  bench::DpdkGso::Layout l;
  if (vxlan) {
    l = {14, 20, 8 + 8 + 14, 20, 32, true, 1514};
  } else {
    l = {0, 0, 14, 20, 32, false, 1514};
  }
  auto d = std::make_unique<bench::DpdkGso>(in.bytes, l);
  return d->ok() ? std::move(d) : nullptr;
}

void BM_Dpdk(benchmark::State& state, bool vxlan) {
  Input in(vxlan);
  auto d = make_dpdk(in, vxlan);
  if (d == nullptr) {
    state.SkipWithError("DPDK EAL or mempools unavailable");
    return;
  }
  uint64_t segs = 0;
  for (auto _ : state)
    segs += static_cast<uint64_t>(d->run());
  state.counters["segments/s"] =
      benchmark::Counter(static_cast<double>(segs), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.bytes.size()));
}
BENCHMARK_CAPTURE(BM_Dpdk, tcp4, false);
BENCHMARK_CAPTURE(BM_Dpdk, vxlan, true);
#endif

// Best of `reps` runs of `iters` frames: nanoseconds per frame.
template <typename F>
double best_ns(F&& once, int reps, int iters) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; i++)
      once();
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / iters);
  }
  return best;
}

void summary(bool quick) {
  const int reps = quick ? 1 : 40, iters = quick ? 5 : 100;
  for (bool vxlan : {false, true}) {
    Input in(vxlan);
    offload::GsoEngine partial(pool(),
                               offload::GsoConfig{.csum_mode = offload::GsoCsumMode::kPartial});
    offload::GsoEngine fill(pool(), offload::GsoConfig{.csum_mode = offload::GsoCsumMode::kFill});
    const uint32_t segs = ferry_once(partial, in.pkt);
    const char* name = vxlan ? "VXLAN 64KB -> MTU 1500 (MSS 1398)" : "TCPv4 64KB -> MSS 1448";
    std::printf(
        "%s: %u segments (best of %d runs of %d frames, thread CPU time, runs interleaved)\n", name,
        segs, reps, iters);
#ifdef FERRY_HAVE_DPDK
    auto d = make_dpdk(in, vxlan);
#endif
    // The contenders take turns, so a change in the machine's load hits all of them.
    double tp = 1e30, tf = 1e30, td = 1e30;
    for (int r = 0; r < reps; r++) {
      tp = std::min(tp, best_ns([&] { ferry_once(partial, in.pkt); }, 1, iters));
      tf = std::min(tf, best_ns([&] { ferry_once(fill, in.pkt); }, 1, iters));
#ifdef FERRY_HAVE_DPDK
      if (d != nullptr) td = std::min(td, best_ns([&] { d->run(); }, 1, iters));
#endif
    }
    std::printf("  Ferry partial csum:   %6.0f ns/frame  %6.2f Mseg/s\n", tp, segs * 1e3 / tp);
    std::printf("  Ferry fill csum:      %6.0f ns/frame  %6.2f Mseg/s\n", tf, segs * 1e3 / tf);
#ifdef FERRY_HAVE_DPDK
    if (d == nullptr) {
      std::printf("  DPDK: unavailable (EAL init failed)\n");
      continue;
    }
    // Same segmentation? Compare the payload bytes after the headers.
    auto ds = d->segments();
    Packet* out[128];
    uint32_t n = 0;
    partial.segment(in.pkt, out, 128, &n);
    bool same = ds.size() == n;
    const uint32_t hdr = (vxlan ? 50u : 0u) + 66u;
    for (uint32_t i = 0; same && i < n; i++) {
      auto fb = packet_to_bytes(*out[i]);
      same =
          fb.size() == ds[i].size() && std::equal(fb.begin() + hdr, fb.end(), ds[i].begin() + hdr);
    }
    free_packets(out, n);
    std::printf(
        "  DPDK rte_gso_segment: %6.0f ns/frame  %6.2f Mseg/s  (%zu segments, payloads %s)\n", td,
        static_cast<double>(ds.size()) * 1e3 / td, ds.size(), same ? "identical" : "DIFFER");
    std::printf("  ratio Ferry/DPDK (segments/s): partial %.2fx, fill %.2fx\n", td / tp, td / tf);
#else
    (void)td;
#endif
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    if (std::strstr(argv[i], "--benchmark_min_time=0.0") == argv[i]) quick = true;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  summary(quick);
  return 0;
}
