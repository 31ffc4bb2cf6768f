// Packets per second of parse_frame over the frames of the test captures: all of them, and
// a few representative captures on their own. When DPDK is available, the same frames go
// through rte_net_get_ptype (DPDK's software ptype parser, all layers incl. tunnels) in
// the same run, and the counter `vs_dpdk` is DPDK's time over Ferry's (> 1: Ferry faster).
//
// The parsers do not do the same work: Ferry validates lengths, options and fragments and
// fills offsets for one tunnel level; DPDK classifies with fewer checks. The ratio is an
// anchor for regressions, not a like-for-like contest.

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <time.h>

#include "pcap/pcap_file.h"
#include "proto/parser.h"
#ifdef FERRY_HAVE_DPDK
#include "parser_bench_dpdk.h"
#endif

namespace {

using Frames = std::vector<std::vector<uint8_t>>;

const char* const kCaptures[] = {
    "650HttpResponses.pcap",
    "ArpRequestWithVlan.pcap",
    "IPv4-encapsulated-IPv6.pcap",
    "IPv4Frag.pcap",
    "IPv6UdpPacket.pcap",
    "IcmpPackets.pcap",
    "IcmpV6_EchoMessages.pcap",
    "IcmpV6_NeighAdvSoli.pcap",
    "MplsPackets.pcap",
    "TcpPacketNoOptions.pcap",
    "TcpPacketWithOptions.pcap",
    "TcpPacketWithOptions2.pcap",
    "TcpPacketWithOptions3.pcap",
    "VlanPackets.pcap",
    "Vxlan1.pcap",
    "Vxlan2.pcap",
    "frag_with_padding.pcap",
    "gtp-u.pcap",
    "ip4_bad_fragment.pcap",
    "ip4_fragments.pcap",
    "ip6_fragments.pcap",
    "ipv6_opt_fragments.pcap",
    "ipv6_options.pcap",
    "llc_vlan.pcap",
    "one_http_stream_fin.pcap",
    "one_http_stream_rst.pcap",
    "one_tcp_stream.pcap",
    "one_tcp_stream_max_seq.pcap",
    "tcp-malformed.pcap",
    "tcp-reassembly.pcap",
    "three_http_streams.pcap",
    "unidirectional_tcp_stream_with_missing_packet.pcap",
};

Frames load(const std::string& name) {
  std::vector<ferry::pcap::Frame> frames;
  std::string error;
  if (!ferry::pcap::PcapReader::read_all(std::string(FERRY_TEST_DATA) + "/captures/" + name,
                                         &frames, &error)) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), error.c_str());
  }
  Frames out;
  for (auto& f : frames)
    out.push_back(std::move(f.data));
  return out;
}

const Frames& frames_of(const std::string& set) {
  static std::map<std::string, Frames> cache;
  auto it = cache.find(set);
  if (it != cache.end()) return it->second;
  Frames f;
  if (set == "all") {
    for (const char* name : kCaptures) {
      Frames one = load(name);
      f.insert(f.end(), one.begin(), one.end());
    }
  } else {
    f = load(set);
  }
  return cache.emplace(set, std::move(f)).first->second;
}

uint64_t ferry_parse_all(const Frames& frames) {
  uint64_t sum = 0;
  for (const auto& f : frames) {
    const ferry::proto::ParseResult r = ferry::proto::parse_frame(f);
    sum += r.type.bits() + r.headers_len;
  }
  return sum;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU time of this thread, so that other load on a shared machine does not skew the ratio.
template <typename Fn>
double seconds_for(int passes, Fn fn) {
  const double t0 = thread_cpu_seconds();
  for (int i = 0; i < passes; i++)
    benchmark::DoNotOptimize(fn());
  return thread_cpu_seconds() - t0;
}

void BM_ParseFrame(benchmark::State& state, const std::string& set) {
  const Frames& frames = frames_of(set);
  if (frames.empty()) {
    state.SkipWithError("no frames");
    return;
  }
  for (auto _ : state)
    benchmark::DoNotOptimize(ferry_parse_all(frames));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * frames.size()));
  uint64_t bytes = 0;
  for (const auto& f : frames)
    bytes += f.size();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
#ifdef FERRY_HAVE_DPDK
  // The anchor: both parsers over the same frames, interleaved, in this process.
  static std::map<std::string, std::unique_ptr<ferry::bench::DpdkPtype>> dpdk;
  auto& d = dpdk[set];
  if (!d) d = std::make_unique<ferry::bench::DpdkPtype>(frames);
  const int passes = std::max<int>(1, static_cast<int>(200000 / frames.size()));
  double ferry_s = 0, dpdk_s = 0;
  for (int round = 0; round < 3; round++) {
    ferry_s += seconds_for(passes, [&] { return ferry_parse_all(frames); });
    dpdk_s += seconds_for(passes, [&] { return d->parse_all(); });
  }
  const double n = 3.0 * passes * frames.size();
  state.counters["ferry_Mpps"] = n / ferry_s / 1e6;
  state.counters["dpdk_Mpps"] = n / dpdk_s / 1e6;
  state.counters["vs_dpdk"] = dpdk_s / ferry_s;
#endif
}

BENCHMARK_CAPTURE(BM_ParseFrame, all, std::string("all"));
BENCHMARK_CAPTURE(BM_ParseFrame, tcp_stream, std::string("one_tcp_stream.pcap"));
BENCHMARK_CAPTURE(BM_ParseFrame, http, std::string("650HttpResponses.pcap"));
BENCHMARK_CAPTURE(BM_ParseFrame, qinq, std::string("VlanPackets.pcap"));
BENCHMARK_CAPTURE(BM_ParseFrame, ipv6_frag, std::string("ip6_fragments.pcap"));
BENCHMARK_CAPTURE(BM_ParseFrame, gtpu, std::string("gtp-u.pcap"));
BENCHMARK_CAPTURE(BM_ParseFrame, vxlan, std::string("Vxlan1.pcap"));

}  // namespace

BENCHMARK_MAIN();
