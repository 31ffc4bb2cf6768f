// GRO packets/s and coalescing ratio on a 64-flow TCP/IPv4 mix: bursts of 32 MTU-size
// segments (1448 bytes of payload with timestamps), each burst holding the segments of
// `flows_per_burst` flows interleaved. Ferry's GroTable against DPDK's
// rte_gro_reassemble_burst on the same frames in the same binary when DPDK is installed.
//
// Both sides get pre-parsed packets (Ferry: parse results in the descriptor, DPDK: the
// packet type and header lengths rte_gro needs) with checksums already validated (Ferry:
// kUnnecessary; DPDK's GRO does not look at checksums), and between timed runs the
// packets are restored to what they were on arrival (untimed). Ferry's table also runs
// with software checksum verification (kNone) for reference.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "csum/packet_checksum.h"
#include "offload/gro.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "proto/parser.h"

#ifdef FERRY_HAVE_DPDK
#include "gro_bench_dpdk.h"
#endif

namespace {

using namespace ferry;
using Bytes = std::vector<uint8_t>;

constexpr uint32_t kFlows = 64;
constexpr uint32_t kBurst = 32;
constexpr uint32_t kSegmentsPerFlow = 32;
constexpr uint32_t kPayload = 1448 - 12;  // MTU 1500 with the timestamp option

void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v);
}

Bytes tcp_frame(uint32_t flow, uint32_t seq, uint16_t id) {
  Bytes f(14 + 20 + 32 + kPayload);
  uint8_t* d = f.data();
  const uint8_t mac[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
  std::memcpy(d, mac, 12);
  put16(d + 12, 0x0800);
  uint8_t* ip = d + 14;
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint32_t>(f.size() - 14));
  put16(ip + 4, id);
  put16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = 6;
  put32(ip + 12, 0x0a000001);
  put32(ip + 16, 0x0a010000 + flow);
  uint8_t* th = ip + 20;
  put16(th, static_cast<uint16_t>(10000 + flow));
  put16(th + 2, 5201);
  put32(th + 4, seq);
  put32(th + 8, 777);
  th[12] = 8 << 4;
  th[13] = 0x10;
  put16(th + 14, 1024);
  const uint8_t ts[12] = {1, 1, 8, 10, 0, 1, 2, 3, 0, 4, 5, 6};
  std::memcpy(th + 20, ts, 12);
  for (uint32_t i = 0; i < kPayload; i++)
    th[32 + i] = static_cast<uint8_t>(i * 7 + flow);
  return f;
}

// 64 flows of 32 segments; each burst of 32 interleaves the segments of flows_per_burst
// flows (32 / flows_per_burst consecutive segments of each).
std::vector<Bytes> workload(uint32_t flows_per_burst) {
  std::vector<uint32_t> next(kFlows, 0);
  std::vector<Bytes> frames;
  const uint32_t per = kBurst / flows_per_burst;
  const uint32_t bursts = kFlows * kSegmentsPerFlow / kBurst;
  for (uint32_t b = 0; b < bursts; b++) {
    for (uint32_t j = 0; j < per; j++) {
      for (uint32_t k = 0; k < flows_per_burst; k++) {
        const uint32_t flow = (b * flows_per_burst + k) % kFlows;
        const uint32_t i = next[flow]++;
        frames.push_back(
            tcp_frame(flow, 1000 + i * kPayload, static_cast<uint16_t>(flow * 100 + i)));
      }
    }
  }
  return frames;
}

// Ferry's packets over the frames, restorable to their state on arrival.
class FerryPackets {
 public:
  explicit FerryPackets(const std::vector<Bytes>& frames) : frames_(frames) {
    BufferPool::Config c;
    c.name = "gro_bench";
    c.buffer_count = static_cast<uint32_t>(frames.size() + 16);
    pool_ = BufferPool::create(c);
    for (const Bytes& f : frames) {
      Packet* p = packet_from_bytes(*pool_, f);
      proto::parse_packet(*p);
      csum::fill_all(*p);
      frames_[pkts_.size()] = packet_to_bytes(*p);
      bufs_.push_back(p->buffer_start());
      types_.push_back(p->packet_type());
      pkts_.push_back(p);
    }
  }
  ~FerryPackets() {
    reset(CsumState::kNone);
    free_packets(pkts_.data(), static_cast<uint32_t>(pkts_.size()));
  }
  void reset(CsumState st) {
    for (size_t i = 0; i < pkts_.size(); i++) {
      Packet* p = pkts_[i];
      const Bytes& f = frames_[i];
      p->init(bufs_[i], pool_->buffer_len(), pool_->headroom(), pool_->id());
      p->append(static_cast<uint32_t>(f.size()));
      std::memcpy(p->data(), f.data(), 14 + 20 + 32);  // the payload never changes
      p->set_packet_type(types_[i]);
      p->set_l3_offset(14);
      p->set_l4_offset(34);
      if (st == CsumState::kUnnecessary) p->set_csum_unnecessary();
    }
  }
  std::vector<Packet*>& packets() { return pkts_; }

 private:
  std::vector<Bytes> frames_;
  std::unique_ptr<BufferPool> pool_;
  std::vector<Packet*> pkts_;
  std::vector<uint8_t*> bufs_;
  std::vector<PacketType> types_;
};

// Rates from the fastest timed run (the least disturbed on a shared machine).
// Thread CPU time: a run preempted by another process on this shared machine does not
// count the time it was off the CPU.
double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Result {
  double pps = 0;
  double ratio = 0;
};
std::map<std::string, Result>& results() {
  static std::map<std::string, Result> r;
  return r;
}

void BM_FerryGro(benchmark::State& state, CsumState st, const char* tag) {
  const uint32_t fpb = static_cast<uint32_t>(state.range(0));
  FerryPackets fp(workload(fpb));
  offload::GroConfig cfg;
  cfg.max_flows = 64;
  offload::GroTable table(cfg);
  std::vector<Packet*> scratch(kBurst);
  auto& pkts = fp.packets();
  uint64_t in = 0, out = 0;
  double best = 1e9;
  for (auto _ : state) {
    fp.reset(st);
    const double t0 = thread_seconds();
    for (size_t i = 0; i < pkts.size(); i += kBurst) {
      std::memcpy(scratch.data(), pkts.data() + i, kBurst * sizeof(Packet*));
      out += table.reassemble_burst(scratch.data(), kBurst);
    }
    const double s = thread_seconds() - t0;
    state.SetIterationTime(s);
    best = std::min(best, s);
    in += pkts.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(in));
  state.counters["ratio"] = out > 0 ? static_cast<double>(in) / static_cast<double>(out) : 0;
  state.counters["pps"] = benchmark::Counter(static_cast<double>(in), benchmark::Counter::kIsRate);
  results()[std::string(tag) + "/" + std::to_string(fpb)] = {pkts.size() / best,
                                                             state.counters["ratio"]};
}

#ifdef FERRY_HAVE_DPDK
void BM_DpdkGro(benchmark::State& state) {
  const uint32_t fpb = static_cast<uint32_t>(state.range(0));
  bench::DpdkGro d(workload(fpb));
  if (!d.ok()) {
    state.SkipWithError("DPDK EAL or mempool unavailable");
    return;
  }
  uint64_t in = 0, out = 0;
  double best = 1e9;
  for (auto _ : state) {
    d.reset();
    const double t0 = thread_seconds();
    out += d.run(kBurst, static_cast<uint16_t>(fpb), static_cast<uint16_t>(kBurst));
    const double s = thread_seconds() - t0;
    state.SetIterationTime(s);
    best = std::min(best, s);
    in += kFlows * kSegmentsPerFlow;
  }
  state.SetItemsProcessed(static_cast<int64_t>(in));
  state.counters["ratio"] = out > 0 ? static_cast<double>(in) / static_cast<double>(out) : 0;
  state.counters["pps"] = benchmark::Counter(static_cast<double>(in), benchmark::Counter::kIsRate);
  results()["dpdk_alone/" + std::to_string(fpb)] = {kFlows * kSegmentsPerFlow / best,
                                                    state.counters["ratio"]};
}
BENCHMARK(BM_DpdkGro)->Arg(1)->Arg(4)->Arg(8)->UseManualTime();

// Ferry and DPDK alternately on the same frames, so both see the same machine load; the
// ratio printed at the end comes from here (best run of each).
void BM_Paired(benchmark::State& state) {
  const uint32_t fpb = static_cast<uint32_t>(state.range(0));
  const std::vector<Bytes> frames = workload(fpb);
  bench::DpdkGro d(frames);
  if (!d.ok()) {
    state.SkipWithError("DPDK EAL or mempool unavailable");
    return;
  }
  FerryPackets fp(frames);
  offload::GroConfig cfg;
  cfg.max_flows = 64;
  offload::GroTable table(cfg);
  std::vector<Packet*> scratch(kBurst);
  auto& pkts = fp.packets();
  double best_f = 1e9, best_d = 1e9;
  uint64_t out_f = 0, out_d = 0, runs = 0;
  for (auto _ : state) {
    fp.reset(CsumState::kUnnecessary);
    double t0 = thread_seconds();
    for (size_t i = 0; i < pkts.size(); i += kBurst) {
      std::memcpy(scratch.data(), pkts.data() + i, kBurst * sizeof(Packet*));
      out_f += table.reassemble_burst(scratch.data(), kBurst);
    }
    const double sf = thread_seconds() - t0;
    d.reset();
    t0 = thread_seconds();
    out_d += d.run(kBurst, static_cast<uint16_t>(fpb), static_cast<uint16_t>(kBurst));
    const double sd = thread_seconds() - t0;
    best_f = std::min(best_f, sf);
    best_d = std::min(best_d, sd);
    state.SetIterationTime(sf + sd);
    runs++;
  }
  const double n = static_cast<double>(pkts.size());
  state.counters["ferry_pps"] = n / best_f;
  state.counters["dpdk_pps"] = n / best_d;
  state.counters["ferry/dpdk"] = best_d / best_f;
  results()["ferry/" + std::to_string(fpb)] = {n / best_f, n * runs / static_cast<double>(out_f)};
  results()["dpdk/" + std::to_string(fpb)] = {n / best_d, n * runs / static_cast<double>(out_d)};
}
BENCHMARK(BM_Paired)->Arg(1)->Arg(4)->Arg(8)->UseManualTime();
#endif

BENCHMARK_CAPTURE(BM_FerryGro, validated, CsumState::kUnnecessary, "ferry_alone")
    ->Arg(1)
    ->Arg(4)
    ->Arg(8)
    ->UseManualTime();
BENCHMARK_CAPTURE(BM_FerryGro, sw_verify, CsumState::kNone, "ferry_sw_verify")
    ->Arg(1)
    ->Arg(4)
    ->Arg(8)
    ->UseManualTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (uint32_t fpb : {1u, 4u, 8u}) {
    const auto& r = results();
    auto v = r.find("ferry_sw_verify/" + std::to_string(fpb));
    if (v != r.end()) {
      std::printf(
          "GRO %u flow(s) per burst of 32: Ferry with software checksum verification %.2f Mpps\n",
          fpb, v->second.pps / 1e6);
    }
    auto f = r.find("ferry/" + std::to_string(fpb));
    auto d = r.find("dpdk/" + std::to_string(fpb));
    if (f == r.end()) continue;
    std::printf("GRO %u flow(s) per burst of 32 (best run): Ferry %.2f Mpps (ratio %.1f)", fpb,
                f->second.pps / 1e6, f->second.ratio);
    if (d != r.end() && d->second.pps > 0) {
      std::printf(", DPDK %.2f Mpps (ratio %.1f), Ferry/DPDK %.2fx", d->second.pps / 1e6,
                  d->second.ratio, f->second.pps / d->second.pps);
    }
    std::printf("\n");
  }
  return 0;
}
