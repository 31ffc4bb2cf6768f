// Buffer pool speed against malloc/free, the anchor, in the same run.
//
// BM_MallocFree32 and BM_PoolAllocFreeBulk32 allocate and free 32 buffers of the pool's
// element size per iteration; the pool benchmark reports ns per packet and its ratio to
// the malloc anchor (pool_vs_malloc < 1 means the pool is faster).

#include <chrono>
#include <cstdlib>
#include <vector>

#include <benchmark/benchmark.h>

#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "packet/segment_reader.h"

namespace ferry {
namespace {

constexpr uint32_t kBurst = 32;
double g_malloc_ns_per_pkt = 0;

std::unique_ptr<BufferPool> make_pool() {
  return BufferPool::create({.name = "bench", .buffer_count = 1024});
}

void malloc_free_burst(size_t size) {
  void* bufs[kBurst];
  for (uint32_t i = 0; i < kBurst; i++)
    bufs[i] = std::malloc(size);
  benchmark::DoNotOptimize(bufs);
  for (uint32_t i = 0; i < kBurst; i++)
    std::free(bufs[i]);
}

void set_per_packet(benchmark::State& state) {
  state.counters["ns_per_pkt"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kBurst,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

double ns_per_pkt(benchmark::State& state, std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::nano>(d).count() /
         (static_cast<double>(state.iterations()) * kBurst);
}

void BM_MallocFree32(benchmark::State& state) {
  size_t size = make_pool()->element_size();
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state)
    malloc_free_burst(size);
  g_malloc_ns_per_pkt = ns_per_pkt(state, std::chrono::steady_clock::now() - t0);
  set_per_packet(state);
}
BENCHMARK(BM_MallocFree32);

void BM_PoolAllocFreeBulk32(benchmark::State& state) {
  auto pool = make_pool();
  Packet* pkts[kBurst];
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    if (!pool->alloc_bulk(pkts, kBurst)) state.SkipWithError("pool empty");
    benchmark::DoNotOptimize(pkts);
    pool->free_bulk(pkts, kBurst);
  }
  double pool_ns = ns_per_pkt(state, std::chrono::steady_clock::now() - t0);
  if (g_malloc_ns_per_pkt == 0) {  // anchor filtered out: measure it here
    size_t size = pool->element_size();
    constexpr int kRounds = 100000;
    auto a0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; i++)
      malloc_free_burst(size);
    g_malloc_ns_per_pkt =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - a0).count() /
        (double{kRounds} * kBurst);
  }
  set_per_packet(state);
  state.counters["pool_vs_malloc"] = pool_ns / g_malloc_ns_per_pkt;
}
BENCHMARK(BM_PoolAllocFreeBulk32);

// The same through free_packets(), which looks each packet's pool up by id.
void BM_PoolAllocBulkFreePackets32(benchmark::State& state) {
  auto pool = make_pool();
  Packet* pkts[kBurst];
  for (auto _ : state) {
    if (!pool->alloc_bulk(pkts, kBurst)) state.SkipWithError("pool empty");
    benchmark::DoNotOptimize(pkts);
    free_packets(pkts, kBurst);
  }
  set_per_packet(state);
}
BENCHMARK(BM_PoolAllocBulkFreePackets32);

// Reading the first 54 header bytes of a 1500-byte packet with SegmentReader: Arg(1) all
// in the head segment (direct pointers), Arg(0) with a 40-byte head, so the L4 header
// straddles two segments and is gathered into scratch.
void BM_SegmentReaderPullHeaders(benchmark::State& state) {
  bool contiguous = state.range(0) != 0;
  auto pool = BufferPool::create(
      {.name = "bench", .buffer_count = 16, .data_room = contiguous ? 2048u : 40u});
  std::vector<uint8_t> frame(1500);
  Packet* p = packet_from_bytes(*pool, frame);
  uint8_t scratch[64];
  for (auto _ : state) {
    SegmentReader r(*p);
    const uint8_t* eth = r.pull(14, scratch);
    benchmark::DoNotOptimize(eth);
    const uint8_t* ip = r.pull(20, scratch);
    benchmark::DoNotOptimize(ip);
    const uint8_t* l4 = r.pull(20, scratch);
    benchmark::DoNotOptimize(l4);
  }
  state.SetLabel(contiguous ? "one segment" : "straddling");
  free_packet(p);
}
BENCHMARK(BM_SegmentReaderPullHeaders)->Arg(0)->Arg(1);

}  // namespace
}  // namespace ferry

BENCHMARK_MAIN();
