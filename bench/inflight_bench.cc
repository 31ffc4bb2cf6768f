// The cost of inflight tracking on a split ring: one burst of 32 two-descriptor tx chains
// made available, popped, completed, published and reaped, without and with an inflight
// area (Arg 1). The difference is what tracking adds per chain.

#include <cstdlib>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "virtio/inflight.h"
#include "virtio/split_virtqueue.h"
#include "virtio/split_virtqueue_driver.h"

using namespace ferry::virtio;

namespace {

constexpr uint64_t kBase = 0x100000;
constexpr uint64_t kSize = 4 << 20;
constexpr uint16_t kBurst = 32;

void BM_SplitTxBurstInflight(benchmark::State& state) {
  uint8_t* host = static_cast<uint8_t*>(std::aligned_alloc(4096, kSize));
  GuestMemory mem;
  std::string error;
  mem.add_region(MemoryRegion{kBase, kSize, kBase, host}, &error);
  uint16_t size = 256;
  SplitVirtqueueDriver::Options o;
  o.size = size;
  o.desc_gpa = kBase;
  o.avail_gpa = kBase + 0x10000;
  o.used_gpa = kBase + 0x20000;
  o.event_idx = true;
  SplitVirtqueueDriver drv(mem, o);
  SplitVirtqueueConfig cfg;
  SplitVirtqueue::map_ring(mem, RingAddressSpace::kGuestPhysical, size, o.desc_gpa, o.avail_gpa,
                           o.used_gpa, &cfg, &error);
  cfg.event_idx = true;
  std::vector<uint64_t> area(inflight_queue_bytes(size, false) / 8, 0);
  if (state.range(0) != 0) {
    cfg.inflight = reinterpret_cast<InflightQueueSplit*>(area.data());
    cfg.inflight_capacity = size;
  }
  SplitVirtqueue q(&mem, cfg);
  static DescChain chains[kBurst];
  DriverBuffer b[2];
  for (auto _ : state) {
    for (int i = 0; i < kBurst; i++) {
      b[0] = {kBase + 0x200000 + 2048ull * i, 12, false};
      b[1] = {b[0].gpa + 64, 1500, false};
      drv.add_chain(b, 2);
    }
    drv.publish();
    uint16_t n = q.pop_burst(chains, kBurst);
    for (uint16_t i = 0; i < n; i++)
      q.add_used(chains[i], 0);
    q.flush();
    benchmark::DoNotOptimize(q.needs_interrupt());
    DriverUsed u;
    while (drv.get_used(&u)) {
    }
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
  std::free(host);
}
BENCHMARK(BM_SplitTxBurstInflight)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
