// Bridge forwarding decisions per second: bursts of 64 parsed frames through
// Bridge::process_burst() with a 1k- or 64k-entry FDB (source MACs refreshed, destination
// looked up), for known unicast, broadcast flooding with guest receive filters, and
// trunk-to-trunk frames (tag popped on ingress, pushed back per output copy). The anchor
// is the same number of MAC lookups in a std::unordered_map, the table a straightforward
// implementation would use.

#include <random>
#include <unordered_map>
#include <vector>

#include <benchmark/benchmark.h>

#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "proto/parser.h"
#include "switch/bridge.h"

namespace {

using namespace ferry;
using namespace ferry::sw;

constexpr uint32_t kBurst = 64;
constexpr uint16_t kPorts = 16;

std::vector<uint8_t> frame(uint64_t dst, uint64_t src, int vid) {
  std::vector<uint8_t> f;
  MacAddress d = MacAddress::from_u64(dst), s = MacAddress::from_u64(src);
  f.insert(f.end(), d.bytes, d.bytes + 6);
  f.insert(f.end(), s.bytes, s.bytes + 6);
  if (vid >= 0) {
    f.insert(f.end(), {0x81, 0x00, static_cast<uint8_t>(vid >> 8), static_cast<uint8_t>(vid)});
  }
  // IPv4/UDP, 64-byte frame.
  const uint8_t ip[] = {0x08, 0x00, 0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0,
                        0,    1,    10,   0, 0, 2,  0, 1, 0, 2, 0,  12, 0, 0, 1,  2};
  f.insert(f.end(), ip, ip + sizeof(ip));
  f.resize(vid >= 0 ? 68 : 64, 0);
  return f;
}

struct Setup {
  std::unique_ptr<BufferPool> pool;
  BridgeConfig config;
  std::unique_ptr<Bridge> bridge;
  std::vector<uint64_t> macs;  // learned addresses; mac i behind port i % kPorts
  std::vector<Packet*> pkts;

  Setup(uint32_t fdb_entries, bool trunk, bool guest_filters = false) {
    BufferPool::Config pc;
    pc.name = "bridge_bench";
    pc.buffer_count = 1024;
    pool = BufferPool::create(pc);
    Bridge::Config bc;
    bc.fdb.max_entries = fdb_entries + 1024;
    bc.fdb.port_learn_limit = fdb_entries;
    bridge = std::make_unique<Bridge>(bc);
    VlanSet vlans;
    vlans.add_range(1, 16);
    for (uint16_t p = 0; p < kPorts; p++) {
      PortConfig& c = config.port(p);
      c.enabled = true;
      c.vlan = trunk ? PortVlan::trunk(vlans) : PortVlan::access(1);
      if (guest_filters)
        c.rx_filter = RxFilter::for_guest(MacAddress::from_u64(0x525400000000ull + p));
    }
    config.finalize();
    std::mt19937_64 rng(42);
    uint16_t vid = trunk ? 5 : 1;
    while (macs.size() < fdb_entries) {
      uint64_t m = (rng() & 0xfeffffffffffull) | 0x020000000000ull;
      uint16_t port = static_cast<uint16_t>(macs.size() % kPorts);
      if (bridge->fdb().learn(MacAddress::from_u64(m), vid, port, 0) == LearnResult::kLearned) {
        macs.push_back(m);
      }
    }
  }
  ~Setup() {
    for (Packet* p : pkts)
      free_packet(p);
  }

  void make_burst(bool broadcast, int vid) {
    std::mt19937_64 rng(7);
    for (uint32_t i = 0; i < kBurst; i++) {
      size_t s = rng() % macs.size(), d = rng() % macs.size();
      if (s % kPorts == d % kPorts) d = (d + 1) % macs.size();
      uint64_t dst = broadcast ? 0xffffffffffffull : macs[d];
      Packet* p = packet_from_bytes(*pool, frame(dst, macs[s], vid));
      proto::parse_packet(*p);
      p->set_in_port(static_cast<uint16_t>(s % kPorts));
      pkts.push_back(p);
    }
  }
};

void BM_KnownUnicast(benchmark::State& state) {
  Setup s(static_cast<uint32_t>(state.range(0)), false);
  s.make_burst(false, -1);
  ForwardDecision dec[kBurst];
  BridgeStats stats;
  for (auto _ : state) {
    s.bridge->process_burst(s.config, s.pkts.data(), kBurst, 1, dec, stats);
    benchmark::DoNotOptimize(dec);
  }
  if (stats.forwarded_unicast != stats.packets) state.SkipWithError("not all unicast");
  state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_KnownUnicast)->Arg(1024)->Arg(65536);

// The same without MAC learning on the input ports (one FDB lookup per frame).
void BM_KnownUnicastNoLearning(benchmark::State& state) {
  Setup s(static_cast<uint32_t>(state.range(0)), false);
  for (uint16_t p = 0; p < kPorts; p++)
    s.config.port(p).learning = false;
  s.config.finalize();
  s.make_burst(false, -1);
  ForwardDecision dec[kBurst];
  BridgeStats stats;
  for (auto _ : state) {
    s.bridge->process_burst(s.config, s.pkts.data(), kBurst, 1, dec, stats);
    benchmark::DoNotOptimize(dec);
  }
  if (stats.forwarded_unicast != stats.packets) state.SkipWithError("not all unicast");
  state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_KnownUnicastNoLearning)->Arg(1024)->Arg(65536);

void BM_BroadcastFlood(benchmark::State& state) {
  Setup s(static_cast<uint32_t>(state.range(0)), false, true);
  s.make_burst(true, -1);
  ForwardDecision dec[kBurst];
  BridgeStats stats;
  for (auto _ : state) {
    s.bridge->process_burst(s.config, s.pkts.data(), kBurst, 1, dec, stats);
    benchmark::DoNotOptimize(dec);
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_BroadcastFlood)->Arg(1024)->Arg(65536);

// Trunk to trunk: ingress pops the tag, the benchmark pushes it back on the one output
// (prepare_egress), so the same frames can be replayed.
void BM_TrunkUnicastWithTagPopPush(benchmark::State& state) {
  Setup s(static_cast<uint32_t>(state.range(0)), true);
  s.make_burst(false, 5);
  ForwardDecision dec[kBurst];
  BridgeStats stats;
  for (auto _ : state) {
    s.bridge->process_burst(s.config, s.pkts.data(), kBurst, 1, dec, stats);
    for (uint32_t i = 0; i < kBurst; i++)
      Bridge::prepare_egress(s.config, *s.pkts[i], dec[i], dec[i].ports.first(), stats);
    benchmark::DoNotOptimize(dec);
  }
  if (stats.forwarded_unicast != stats.packets) state.SkipWithError("not all unicast");
  state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_TrunkUnicastWithTagPopPush)->Arg(1024)->Arg(65536);

// Anchor: the two lookups per frame (source, destination) in std::unordered_map.
void BM_AnchorUnorderedMapLookups(benchmark::State& state) {
  Setup s(static_cast<uint32_t>(state.range(0)), false);
  s.make_burst(false, -1);
  std::unordered_map<uint64_t, uint16_t> map;
  for (size_t i = 0; i < s.macs.size(); i++)
    map[(uint64_t{1} << 48) | s.macs[i]] = static_cast<uint16_t>(i % kPorts);
  std::vector<std::pair<uint64_t, uint64_t>> keys;
  for (Packet* p : s.pkts) {
    keys.push_back({(uint64_t{1} << 48) | MacAddress::from_u64(0).to_u64() |
                        [&] {
                          MacAddress m;
                          std::memcpy(m.bytes, p->data(), 6);
                          return m.to_u64();
                        }(),
                    (uint64_t{1} << 48) |
                        [&] {
                          MacAddress m;
                          std::memcpy(m.bytes, p->data() + 6, 6);
                          return m.to_u64();
                        }()});
  }
  uint64_t found = 0;
  for (auto _ : state) {
    for (auto& [d, src] : keys) {
      auto a = map.find(src);
      auto b = map.find(d);
      found += (a != map.end()) + (b != map.end() ? b->second : 0);
    }
    benchmark::DoNotOptimize(found);
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_AnchorUnorderedMapLookups)->Arg(1024)->Arg(65536);

// The FDB alone: the same two lookups per frame as the anchor.
void BM_FdbLookups(benchmark::State& state) {
  Setup s(static_cast<uint32_t>(state.range(0)), false);
  s.make_burst(false, -1);
  std::vector<std::pair<MacAddress, MacAddress>> keys;
  for (Packet* p : s.pkts) {
    MacAddress d, src;
    std::memcpy(d.bytes, p->data(), 6);
    std::memcpy(src.bytes, p->data() + 6, 6);
    keys.push_back({d, src});
  }
  uint64_t found = 0;
  for (auto _ : state) {
    for (auto& [d, src] : keys) {
      found += s.bridge->fdb().lookup(src, 1) != kNoPort;
      found += s.bridge->fdb().lookup(d, 1);
    }
    benchmark::DoNotOptimize(found);
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_FdbLookups)->Arg(1024)->Arg(65536);

}  // namespace

BENCHMARK_MAIN();
