// RSC packets/s and coalescing ratio on a 64-flow TCP mix, with GRO on the same traffic
// in the same binary for comparison.
//
// Traffic: 64 TCPv4 flows, MTU-sized segments (1448 bytes of payload, no TCP options,
// DF set: what RSC coalesces by default), in bursts of 32 segments. A burst carries
// `flows_per_burst` flows (32 / flows_per_burst consecutive segments each), flows taken
// round robin over the 64. Time advances 10 us per burst, so the 300 us RSC timer drains
// every 30 bursts; GRO flushes at the end of every burst (as at the end of a NAPI poll).
// Frames are built and parsed outside the timed region (a datapath parses them anyway);
// what is timed is the engine: process/poll (RSC) or receive/flush (GRO).

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <linux/if_ether.h>
#include <netinet/in.h>

#include <benchmark/benchmark.h>

#include "base/byteorder.h"
#include "csum/packet_checksum.h"
#include "offload/gro.h"
#include "offload/rsc.h"
#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "proto/parser.h"

namespace {

using ferry::BufferPool;
using ferry::Packet;

constexpr uint32_t kFlows = 64;
constexpr uint32_t kBurst = 32;
constexpr uint32_t kPayload = 1448;
constexpr uint32_t kBurstsPerBatch = 64;  // 2048 frames built per untimed setup
constexpr uint64_t kBurstGapNs = 10'000;

std::vector<uint8_t> frame(uint32_t flow, uint32_t seq) {
  std::vector<uint8_t> f(14 + 20 + 20 + kPayload, 0);
  f[0] = 0x02;
  f[6] = 0x02;
  f[11] = 1;
  ferry::store_be16(&f[12], ETH_P_IP);
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  ferry::store_be16(ip + 2, 40 + kPayload);
  ferry::store_be16(ip + 4, static_cast<uint16_t>(seq / kPayload));
  ferry::store_be16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = IPPROTO_TCP;
  ferry::store_be32(ip + 12, 0x0a000001);
  ferry::store_be32(ip + 16, 0x0a000100 + flow);
  uint8_t* tcp = ip + 20;
  ferry::store_be16(tcp, static_cast<uint16_t>(10000 + flow));
  ferry::store_be16(tcp + 2, 5201);
  ferry::store_be32(tcp + 4, seq);
  ferry::store_be32(tcp + 8, 1);
  tcp[12] = 0x50;
  tcp[13] = 0x10;  // ACK
  ferry::store_be16(tcp + 14, 512);
  for (uint32_t i = 0; i < kPayload; i++)
    tcp[20 + i] = static_cast<uint8_t>(seq + i);
  return f;
}

// Builds kBurstsPerBatch bursts of parsed frames continuing every flow's sequence.
class Traffic {
 public:
  explicit Traffic(uint32_t flows_per_burst) : per_flow_(kBurst / flows_per_burst) {
    BufferPool::Config c;
    c.name = "rsc_bench";
    // A batch, plus what RSC may hold: 64 flows of up to 45 segments.
    c.buffer_count = kBurst * kBurstsPerBatch + kFlows * 48 + 256;
    pool_ = BufferPool::create(c);
    seq_.assign(kFlows, 1);
    for (uint32_t f = 0; f < kFlows; f++)
      templates_.push_back(frame(f, 0));
  }
  BufferPool& pool() { return *pool_; }

  void build(std::vector<Packet*>* pkts) {
    pkts->clear();
    for (uint32_t b = 0; b < kBurstsPerBatch; b++) {
      for (uint32_t i = 0; i < kBurst; i += per_flow_) {
        const uint32_t flow = next_flow_;
        next_flow_ = (next_flow_ + 1) % kFlows;
        for (uint32_t k = 0; k < per_flow_; k++) {
          std::vector<uint8_t>& t = templates_[flow];
          ferry::store_be32(&t[14 + 20 + 4], seq_[flow]);
          seq_[flow] += kPayload;
          Packet* p = ferry::packet_from_bytes(*pool_, t);
          if (p == nullptr) std::abort();
          ferry::proto::parse_packet(*p);
          ferry::csum::fill_all(*p);
          p->set_csum_unnecessary();  // as received from a NIC that verified it
          pkts->push_back(p);
        }
      }
    }
  }

 private:
  uint32_t per_flow_;
  std::unique_ptr<BufferPool> pool_;
  std::vector<uint32_t> seq_;
  std::vector<std::vector<uint8_t>> templates_;
  uint32_t next_flow_ = 0;
};

void BM_Rsc(benchmark::State& state) {
  Traffic traffic(static_cast<uint32_t>(state.range(0)));
  ferry::offload::Rsc rsc;
  std::vector<Packet*> in, out(2 * kBurst + 256), done;
  uint64_t now = 0, frames = 0, outputs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    traffic.build(&in);
    state.ResumeTiming();
    for (uint32_t b = 0; b < kBurstsPerBatch; b++) {
      now += kBurstGapNs;
      uint32_t n = rsc.poll(now, out.data(), static_cast<uint32_t>(out.size()));
      done.insert(done.end(), out.begin(), out.begin() + n);
      const auto r = rsc.process(in.data() + b * kBurst, kBurst, now, out.data(),
                                 static_cast<uint32_t>(out.size()));
      done.insert(done.end(), out.begin(), out.begin() + r.produced);
    }
    state.PauseTiming();
    frames += in.size();
    outputs += done.size();
    ferry::free_packets(done.data(), static_cast<uint32_t>(done.size()));
    done.clear();
    state.ResumeTiming();
  }
  uint32_t n;
  while ((n = rsc.flush(out.data(), static_cast<uint32_t>(out.size()))) > 0) {
    outputs += n;
    ferry::free_packets(out.data(), n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(frames));
  state.counters["coalescing_ratio"] = outputs == 0 ? 0.0 : static_cast<double>(frames) / outputs;
  state.counters["coalesced"] = static_cast<double>(rsc.stats().ipv4.coalesced);
}

void BM_Gro(benchmark::State& state) {
  Traffic traffic(static_cast<uint32_t>(state.range(0)));
  ferry::offload::GroTable gro;
  std::vector<Packet*> in, out(2 * kBurst + 256), done;
  uint64_t frames = 0, outputs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    traffic.build(&in);
    state.ResumeTiming();
    for (uint32_t b = 0; b < kBurstsPerBatch; b++) {
      const auto r = gro.receive(in.data() + b * kBurst, kBurst, out.data(),
                                 static_cast<uint32_t>(out.size()));
      uint32_t n = r.out;
      n += gro.flush(out.data() + n, static_cast<uint32_t>(out.size()) - n);
      done.insert(done.end(), out.begin(), out.begin() + n);
    }
    state.PauseTiming();
    frames += in.size();
    outputs += done.size();
    ferry::free_packets(done.data(), static_cast<uint32_t>(done.size()));
    done.clear();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(frames));
  state.counters["coalescing_ratio"] = outputs == 0 ? 0.0 : static_cast<double>(frames) / outputs;
}

}  // namespace

BENCHMARK(BM_Rsc)->ArgName("flows_per_burst")->Arg(1)->Arg(8)->Arg(32);
BENCHMARK(BM_Gro)->ArgName("flows_per_burst")->Arg(1)->Arg(8)->Arg(32);

BENCHMARK_MAIN();
