// Toeplitz hashes/s per variant for the IPv4 TCP (12-byte) and IPv6 TCP (36-byte) inputs,
// against DPDK's rte_softrss / rte_softrss_be / rte_thash_gfni on the same inputs, and
// flow table lookups/s at 1k and 1M flows.

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <netinet/in.h>

#include <benchmark/benchmark.h>
#include <time.h>

#include "steer/flow_table.h"
#include "steer/toeplitz.h"
#ifdef FERRY_HAVE_DPDK
#include "rss_dpdk.h"
#endif

namespace {

using namespace ferry::steer;

constexpr size_t kInputs = 1024;
constexpr size_t kStride = 48;

struct Inputs {
  std::vector<uint8_t> bytes[2];        // [0]: 12-byte, [1]: 36-byte inputs, kStride apart
  std::vector<uint32_t> host_words[2];  // the same as host-order words, for rte_softrss
  Inputs() {
    std::mt19937 rng(1);
    const size_t lens[2] = {12, 36};
    for (int k = 0; k < 2; k++) {
      bytes[k].resize(kInputs * kStride);
      for (auto& b : bytes[k])
        b = static_cast<uint8_t>(rng());
      for (size_t i = 0; i < kInputs; i++) {
        for (size_t w = 0; w < lens[k] / 4; w++) {
          uint32_t be;
          std::memcpy(&be, &bytes[k][i * kStride + 4 * w], 4);
          host_words[k].push_back(ntohl(be));
        }
      }
    }
  }
};
const Inputs& inputs() {
  static Inputs in;
  return in;
}
const ToeplitzKey& key() {
  static ToeplitzKey k(kMicrosoftKey);
  return k;
}

double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Mhashes/s of every (what, len), for the ratios and the summary.
std::map<std::pair<std::string, size_t>, double>& results() {
  static std::map<std::pair<std::string, size_t>, double> r;
  return r;
}

template <typename Body>
void run(benchmark::State& state, const std::string& what, size_t len, Body&& body) {
  const double t0 = thread_seconds();
  uint32_t acc = 0;
  for (auto _ : state)
    acc ^= body();
  benchmark::DoNotOptimize(acc);
  const double secs = thread_seconds() - t0;
  const double rate = secs > 0 ? static_cast<double>(state.iterations()) * kInputs / secs : 0;
  results()[{what, len}] = rate / 1e6;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kInputs));
#ifdef FERRY_HAVE_DPDK
  auto d = results().find({"dpdk_softrss", len});
  if (what.rfind("dpdk", 0) != 0 && d != results().end() && d->second > 0) {
    state.counters["vs_softrss"] = rate / 1e6 / d->second;
  }
  auto g = results().find({"dpdk_gfni", len});
  if (what.rfind("dpdk", 0) != 0 && g != results().end() && g->second > 0) {
    state.counters["vs_dpdk_gfni"] = rate / 1e6 / g->second;
  }
#endif
}

// "what/len" (snprintf: GCC 12 warns falsely on string concatenation here).
std::string bench_name(const char* what, size_t len) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s/%zu", what, len);
  return buf;
}

int len_index(size_t len) {
  return len == 12 ? 0 : 1;
}

void register_all() {
  for (size_t len : {size_t{12}, size_t{36}}) {
#ifdef FERRY_HAVE_DPDK
    benchmark::RegisterBenchmark(
        bench_name("dpdk_softrss", len).c_str(), [len](benchmark::State& s) {
          const auto& w = inputs().host_words[len_index(len)];
          run(s, "dpdk_softrss", len, [&] {
            return dpdk_softrss_many(w.data(), kInputs, static_cast<uint32_t>(len / 4),
                                     kMicrosoftKey.data());
          });
        });
    benchmark::RegisterBenchmark(
        bench_name("dpdk_softrss_be", len).c_str(), [len](benchmark::State& s) {
          const auto& w = inputs().host_words[len_index(len)];
          static uint8_t key_be[kNicKeyLen];
          dpdk_convert_rss_key(kMicrosoftKey.data(), key_be, kNicKeyLen);
          run(s, "dpdk_softrss_be", len, [&] {
            return dpdk_softrss_be_many(w.data(), kInputs, static_cast<uint32_t>(len / 4), key_be);
          });
        });
    if (dpdk_gfni_available()) {
      benchmark::RegisterBenchmark(
          bench_name("dpdk_gfni", len).c_str(), [len](benchmark::State& s) {
            alignas(64) static uint64_t m[64];
            dpdk_gfni_matrices(kMicrosoftKey.data(), kNicKeyLen, m);
            const uint8_t* in = inputs().bytes[len_index(len)].data();
            run(s, "dpdk_gfni", len,
                [&] { return dpdk_gfni_many(m, in, kInputs, kStride, static_cast<int>(len)); });
          });
      benchmark::RegisterBenchmark(
          bench_name("dpdk_gfni_bulk", len).c_str(), [len](benchmark::State& s) {
            alignas(64) static uint64_t m[64];
            dpdk_gfni_matrices(kMicrosoftKey.data(), kNicKeyLen, m);
            const uint8_t* in = inputs().bytes[len_index(len)].data();
            run(s, "dpdk_gfni_bulk", len, [&] {
              return dpdk_gfni_bulk_many(m, in, kInputs, kStride, static_cast<int>(len));
            });
          });
    }
#endif
    for (ToeplitzVariant v :
         {ToeplitzVariant::kReference, ToeplitzVariant::kTable, ToeplitzVariant::kGfni}) {
      if (!toeplitz_supported(v)) continue;
      const std::string name = std::string("ferry_") + to_string(v);
      benchmark::RegisterBenchmark(bench_name(name.c_str(), len).c_str(),
                                   [len, v, name](benchmark::State& s) {
                                     const uint8_t* in = inputs().bytes[len_index(len)].data();
                                     const ToeplitzKey& k = key();
                                     run(s, name, len, [&] {
                                       uint32_t acc = 0;
                                       switch (v) {
                                         case ToeplitzVariant::kReference:
                                           for (size_t i = 0; i < kInputs; i++)
                                             acc ^= k.hash_reference(in + i * kStride, len);
                                           break;
                                         case ToeplitzVariant::kTable:
                                           for (size_t i = 0; i < kInputs; i++)
                                             acc ^= k.hash_table(in + i * kStride, len);
                                           break;
                                         case ToeplitzVariant::kGfni:
                                           for (size_t i = 0; i < kInputs; i++)
                                             acc ^= k.hash_gfni(in + i * kStride, len);
                                           break;
                                       }
                                       return acc;
                                     });
                                   });
    }
    if (toeplitz_supported(ToeplitzVariant::kGfni)) {
      benchmark::RegisterBenchmark(
          bench_name("ferry_gfni_pair", len).c_str(), [len](benchmark::State& s) {
            const uint8_t* in = inputs().bytes[len_index(len)].data();
            const ToeplitzKey& k = key();
            run(s, "ferry_gfni_pair", len, [&] {
              uint32_t acc = 0;
              for (size_t i = 0; i < kInputs; i += 2) {
                uint32_t a, b;
                k.hash_pair(in + i * kStride, len, in + (i + 1) * kStride, len, &a, &b);
                acc ^= a ^ b;
              }
              return acc;
            });
          });
    }
  }
}

// Flow table lookups of present keys, in random order, one at a time and in bursts.
FlowKey flow(uint32_t i) {
  FlowKey k{};
  k.ip_version = 4;
  k.ip_proto = IPPROTO_TCP;
  std::memcpy(k.src, &i, 4);
  k.dst[0] = 10;
  k.src_port = static_cast<uint16_t>(i * 7);
  k.dst_port = 443;
  return k;
}

void BM_FlowLookup(benchmark::State& state) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  const bool burst = state.range(1) != 0;
  static std::map<uint32_t, std::unique_ptr<FlowTable>> tables;
  static Qsbr qsbr;
  auto& t = tables[n];
  if (!t) {
    t = std::make_unique<FlowTable>(&qsbr,
                                    FlowTableOptions{.initial_entries = 1024, .max_entries = n});
    for (uint32_t i = 0; i < n; i++)
      t->insert(flow(i), 0, 0);
  }
  std::vector<FlowKey> keys(4096);
  std::mt19937 rng(5);
  for (auto& k : keys)
    k = flow(rng() % n);
  std::vector<FlowEntry*> out(64);
  size_t found = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < keys.size(); i += 64) {
      if (burst) {
        t->lookup_burst(&keys[i], 64, out.data());
        for (FlowEntry* e : out)
          found += e != nullptr;
      } else {
        for (size_t j = 0; j < 64; j++)
          found += t->lookup(keys[i + j]) != nullptr;
      }
    }
  }
  if (found != state.iterations() * keys.size()) state.SkipWithError("missing keys");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * keys.size()));
}
BENCHMARK(BM_FlowLookup)
    ->ArgNames({"flows", "burst"})
    ->Args({1024, 0})
    ->Args({1024, 1})
    ->Args({1 << 20, 0})
    ->Args({1 << 20, 1});

void print_summary() {
  std::printf(
      "\nToeplitz, Mhashes/s (thread CPU time; ratio to DPDK rte_softrss, rte_thash_gfni)\n");
  std::printf("%-18s %12s %12s\n", "variant", "12 B (v4)", "36 B (v6)");
  std::vector<std::string> names;
  for (auto& [k, v] : results()) {
    if (std::find(names.begin(), names.end(), k.first) == names.end()) names.push_back(k.first);
  }
  for (const std::string& name : names) {
    std::printf("%-18s", name.c_str());
    for (size_t len : {size_t{12}, size_t{36}}) {
      auto it = results().find({name, len});
      if (it == results().end()) {
        std::printf(" %12s", "-");
        continue;
      }
      auto d = results().find({"dpdk_softrss", len});
      auto g = results().find({"dpdk_gfni", len});
      char ratio[64] = "";
      if (d != results().end() && d->second > 0 && g != results().end() && g->second > 0) {
        std::snprintf(ratio, sizeof ratio, " (%.2fx, %.2fx)", it->second / d->second,
                      it->second / g->second);
      } else if (d != results().end() && d->second > 0) {
        std::snprintf(ratio, sizeof ratio, " (%.2fx)", it->second / d->second);
      }
      std::printf(" %8.1f%s", it->second, ratio);
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
