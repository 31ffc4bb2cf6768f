// Split and packed virtqueues: one burst of 32 two-descriptor chains (header + 1500-byte
// frame, tx) made available by the driver side, popped, checked and translated, completed
// and published by the device side, and reaped by the driver. The figure is the whole
// round trip per chain; the device's share is most of it (the driver side is simple).

#include <cstdlib>
#include <string>

#include <benchmark/benchmark.h>

#include "virtio/packed_virtqueue.h"
#include "virtio/packed_virtqueue_driver.h"
#include "virtio/split_virtqueue.h"
#include "virtio/split_virtqueue_driver.h"

using namespace ferry::virtio;

namespace {

constexpr uint64_t kBase = 0x100000;
constexpr uint64_t kSize = 4 << 20;
constexpr uint16_t kBurst = 32;

struct Memory {
  Memory() {
    host = static_cast<uint8_t*>(std::aligned_alloc(4096, kSize));
    MemoryRegion r{kBase, kSize, kBase, host};
    std::string error;
    mem.add_region(r, &error);
  }
  ~Memory() { std::free(host); }
  uint8_t* host;
  GuestMemory mem;
};

void fill_bufs(DriverBuffer (&b)[2], int i) {
  b[0] = {kBase + 0x200000 + 2048ull * i, 12, false};
  b[1] = {b[0].gpa + 64, 1500, false};
}

void BM_SplitTxBurst(benchmark::State& state) {
  Memory m;
  uint16_t size = 256;
  SplitVirtqueueDriver::Options o;
  o.size = size;
  o.desc_gpa = kBase;
  o.avail_gpa = kBase + 0x10000;
  o.used_gpa = kBase + 0x20000;
  o.event_idx = true;
  SplitVirtqueueDriver drv(m.mem, o);
  SplitVirtqueueConfig cfg;
  std::string error;
  SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, size, o.desc_gpa, o.avail_gpa,
                           o.used_gpa, &cfg, &error);
  cfg.event_idx = true;
  SplitVirtqueue q(&m.mem, cfg);
  static DescChain chains[kBurst];
  DriverBuffer b[2];
  for (auto _ : state) {
    for (int i = 0; i < kBurst; i++) {
      fill_bufs(b, i);
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
}
BENCHMARK(BM_SplitTxBurst);

void BM_PackedTxBurst(benchmark::State& state) {
  Memory m;
  uint16_t size = 256;
  PackedVirtqueueDriver::Options o;
  o.size = size;
  o.desc_gpa = kBase;
  o.driver_event_gpa = kBase + 0x10000;
  o.device_event_gpa = kBase + 0x10004;
  o.event_idx = true;
  PackedVirtqueueDriver drv(m.mem, o);
  PackedVirtqueueConfig cfg;
  std::string error;
  PackedVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, size, o.desc_gpa,
                            o.driver_event_gpa, o.device_event_gpa, &cfg, &error);
  cfg.event_idx = true;
  PackedVirtqueue q(&m.mem, cfg);
  static DescChain chains[kBurst];
  DriverBuffer b[2];
  for (auto _ : state) {
    for (int i = 0; i < kBurst; i++) {
      fill_bufs(b, i);
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
}
BENCHMARK(BM_PackedTxBurst);

// The device side alone: the same ring re-offered by rewinding (no driver work). Chains
// of range(0) buffers: 2 as Linux sends (header, frame), 1 as DPDK's virtio-user does.
void BM_SplitPopOnly(benchmark::State& state) {
  const int buffers = static_cast<int>(state.range(0));
  Memory m;
  uint16_t size = 256;
  SplitVirtqueueDriver::Options o;
  o.size = size;
  o.desc_gpa = kBase;
  o.avail_gpa = kBase + 0x10000;
  o.used_gpa = kBase + 0x20000;
  SplitVirtqueueDriver drv(m.mem, o);
  DriverBuffer b[2];
  for (int i = 0; i < kBurst; i++) {
    fill_bufs(b, i);
    drv.add_chain(b, buffers);
  }
  drv.publish();
  SplitVirtqueueConfig cfg;
  std::string error;
  SplitVirtqueue::map_ring(m.mem, RingAddressSpace::kGuestPhysical, size, o.desc_gpa, o.avail_gpa,
                           o.used_gpa, &cfg, &error);
  SplitVirtqueue q(&m.mem, cfg);
  static DescChain chains[kBurst];
  for (auto _ : state) {
    uint16_t n = q.pop_burst(chains, kBurst);
    benchmark::DoNotOptimize(chains[n - 1].readable_len);
    q.rewind_avail(0);
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_SplitPopOnly)->Arg(1)->Arg(2);

}  // namespace
BENCHMARK_MAIN();
