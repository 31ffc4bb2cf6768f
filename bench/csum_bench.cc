// Checksum throughput: each SIMD kernel of the checksum engine on 64 B, 1500 B, 9000 B and
// 64 KiB buffers, next to memcpy of the same buffer (a checksum only reads, so it should
// beat a copy) and DPDK's rte_raw_cksum. Counters: vs_memcpy = checksum GB/s / memcpy
// GB/s, vs_dpdk = Ferry GB/s / DPDK GB/s (both measured earlier in the same run). A table
// of all figures is printed at the end.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <time.h>

#include "base/cpu_features.h"
#include "csum/raw_sum.h"
#ifdef FERRY_HAVE_DPDK
#include "csum_dpdk.h"
#endif

namespace {

namespace csum = ferry::csum;

constexpr size_t kSizes[] = {64, 1500, 9000, 65536};

// 64-byte aligned source and destination, filled once.
struct Buffers {
  uint8_t* src;
  uint8_t* dst;
  Buffers() {
    src = static_cast<uint8_t*>(std::aligned_alloc(64, 65536 + 64));
    dst = static_cast<uint8_t*>(std::aligned_alloc(64, 65536 + 64));
    for (size_t i = 0; i < 65536 + 64; i++)
      src[i] = static_cast<uint8_t>(i * 131 + 7);
    std::memset(dst, 0, 65536 + 64);
  }
};
Buffers& buffers() {
  static Buffers b;
  return b;
}

// GB/s of every (what, size) measured so far, for ratios and the summary.
std::map<std::pair<std::string, size_t>, double>& results() {
  static std::map<std::pair<std::string, size_t>, double> r;
  return r;
}

double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

template <typename Body>
void run(benchmark::State& state, const std::string& what, Body&& body) {
  const size_t size = static_cast<size_t>(state.range(0));
  // Thread CPU time, as Google Benchmark reports it: the machine may be shared.
  double t0 = thread_seconds();
  for (auto _ : state) {
    body(size);
  }
  double secs = thread_seconds() - t0;
  double gbps = secs > 0 ? static_cast<double>(state.iterations()) * size / secs / 1e9 : 0;
  results()[{what, size}] = gbps;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  if (what != "memcpy") {
    auto m = results().find({"memcpy", size});
    if (m != results().end() && m->second > 0) state.counters["vs_memcpy"] = gbps / m->second;
#ifdef FERRY_HAVE_DPDK
    auto d = results().find({"dpdk", size});
    if (what != "dpdk" && d != results().end() && d->second > 0) {
      state.counters["vs_dpdk"] = gbps / d->second;
    }
#endif
  }
}

void BM_Memcpy(benchmark::State& state) {
  Buffers& b = buffers();
  run(state, "memcpy", [&](size_t n) {
    std::memcpy(b.dst, b.src, n);
    benchmark::DoNotOptimize(b.dst);
    benchmark::ClobberMemory();
  });
}

#ifdef FERRY_HAVE_DPDK
void BM_Dpdk(benchmark::State& state) {
  Buffers& b = buffers();
  run(state, "dpdk", [&](size_t n) {
    benchmark::DoNotOptimize(b.src);
    benchmark::DoNotOptimize(dpdk_raw_cksum(b.src, n));
  });
}
#endif

void BM_RawSum(benchmark::State& state, csum::RawSumKernel kernel) {
  Buffers& b = buffers();
  run(state, kernel.name, [&](size_t n) {
    benchmark::DoNotOptimize(b.src);
    benchmark::DoNotOptimize(kernel.fn(b.src, n, 0));
  });
}

// Through the dispatcher, as Ferry calls it.
void BM_RawSumDispatch(benchmark::State& state) {
  Buffers& b = buffers();
  run(state, "dispatch", [&](size_t n) {
    benchmark::DoNotOptimize(b.src);
    benchmark::DoNotOptimize(csum::raw_sum(b.src, n));
  });
}

void register_all() {
  for (size_t size : kSizes) {
    benchmark::RegisterBenchmark("memcpy", BM_Memcpy)->Arg(static_cast<int64_t>(size));
#ifdef FERRY_HAVE_DPDK
    benchmark::RegisterBenchmark("dpdk_rte_raw_cksum", BM_Dpdk)->Arg(static_cast<int64_t>(size));
#endif
    for (const csum::RawSumKernel& kernel : csum::raw_sum_kernels()) {
      std::string name = std::string("raw_sum_") + kernel.name;
      benchmark::RegisterBenchmark(name.c_str(), BM_RawSum, kernel)
          ->Arg(static_cast<int64_t>(size));
    }
    benchmark::RegisterBenchmark("raw_sum_dispatch", BM_RawSumDispatch)
        ->Arg(static_cast<int64_t>(size));
  }
}

void print_summary() {
  std::vector<std::string> rows = {"memcpy", "dpdk",       "scalar",  "avx2",
                                   "avx512", "avx512vnni", "dispatch"};
  const char* chosen = "?";
  for (const csum::RawSumKernel& k : csum::raw_sum_kernels()) {
    if (k.fn == csum::raw_sum_variant(csum::raw_sum_level())) chosen = k.name;
  }
  std::printf("\nChecksum GB/s, thread CPU time (x memcpy, x DPDK); dispatch = %s\n", chosen);
  std::printf("%-10s", "");
  for (size_t size : kSizes)
    std::printf("%24zu", size);
  std::printf("\n");
  for (const std::string& row : rows) {
    if (results().find({row, kSizes[0]}) == results().end()) continue;
    std::printf("%-10s", row.c_str());
    for (size_t size : kSizes) {
      double g = results()[{row, size}];
      double m = results()[{"memcpy", size}];
      auto d = results().find({"dpdk", size});
      char cell[64];
      if (row == "memcpy") {
        std::snprintf(cell, sizeof(cell), "%.1f", g);
      } else if (row == "dpdk" || d == results().end()) {
        std::snprintf(cell, sizeof(cell), "%.1f (%.2fx)", g, m > 0 ? g / m : 0);
      } else {
        std::snprintf(cell, sizeof(cell), "%.1f (%.2fx, %.2fx)", g, m > 0 ? g / m : 0,
                      d->second > 0 ? g / d->second : 0);
      }
      std::printf("%24s", cell);
    }
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
