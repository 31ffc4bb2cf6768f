// Forwarding packets/s of one worker, no kernel in the loop:
//  - Patch/64 and Patch/1500: a host end of a patch port sends bursts of 64 frames
//    (64-byte or 1500-byte IPv4/UDP, known destination), the worker receives, parses,
//    switches (L2 bridge), buffers and flushes them to a second patch port, whose host end
//    drains them. The generator and the sink run on the same thread as the worker, so the
//    figure is a lower bound for the worker alone.
//  - PcapReplay: a pcap port replays a capture in a loop into the worker (frames copied
//    into pool buffers on rx, as a real port does), switched to a draining patch port.
// items_per_second is packets forwarded per second.

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <unistd.h>

#include "packet/buffer_pool.h"
#include "pcap/pcap_file.h"
#include "port/patch_port.h"
#include "port/pcap_port.h"
#include "runtime/datapath.h"

using namespace ferry;

namespace {

std::vector<uint8_t> udp_frame(uint8_t dst, uint8_t src, uint32_t size) {
  std::vector<uint8_t> f(size, 0);
  const uint8_t d[6] = {0x52, 0x54, 0, 0, 0, dst}, s[6] = {0x52, 0x54, 0, 0, 0, src};
  std::memcpy(&f[0], d, 6);
  std::memcpy(&f[6], s, 6);
  f[12] = 0x08;
  uint16_t ip_len = static_cast<uint16_t>(size - 14);
  uint8_t ip[20] = {0x45,
                    0,
                    static_cast<uint8_t>(ip_len >> 8),
                    static_cast<uint8_t>(ip_len),
                    0,
                    1,
                    0x40,
                    0,
                    64,
                    17,
                    0,
                    0,
                    10,
                    0,
                    0,
                    1,
                    10,
                    0,
                    0,
                    2};
  std::memcpy(&f[14], ip, 20);
  uint16_t udp_len = static_cast<uint16_t>(ip_len - 20);
  uint8_t udp[8] = {
      0x30, 0x39, 0, 0x35, static_cast<uint8_t>(udp_len >> 8), static_cast<uint8_t>(udp_len), 0, 0};
  std::memcpy(&f[34], udp, 8);
  return f;
}

struct Rig {
  std::unique_ptr<runtime::Datapath> dp;
  std::unique_ptr<port::PatchPort> h0, h1;
  std::unique_ptr<BufferPool> gen_pool;

  Rig() {
    runtime::DatapathConfig c;
    c.pool_buffers = 16384;
    dp = std::make_unique<runtime::Datapath>(c);
    BufferPool::Config pc;
    pc.name = "generator";
    pc.buffer_count = 8192;
    gen_pool = BufferPool::create(pc);
  }
  void add_patch(std::unique_ptr<port::PatchPort>* host, const char* name) {
    auto [sw, h] = port::PatchPort::create_pair(name, std::string(name) + "-host", 1, 4096);
    dp->add_port(std::move(sw));
    *host = std::move(h);
  }
  void drain(port::PatchPort& h) {
    Packet* pkts[64];
    uint16_t n;
    while ((n = h.rx_burst(0, pkts, 64)) != 0)
      free_packets(pkts, n);
  }
  // Teach the bridge both MACs so the benchmark measures known unicast, not flooding.
  void learn() {
    for (int side = 0; side < 2; side++) {
      auto f = udp_frame(side == 0 ? 2 : 1, side == 0 ? 1 : 2, 64);
      Packet* p = gen_pool->alloc();
      std::memcpy(p->append(static_cast<uint32_t>(f.size())), f.data(), f.size());
      (side == 0 ? h0 : h1)->tx_burst(0, &p, 1);
      dp->worker(0).run_once();
    }
    drain(*h0);
    drain(*h1);
  }
};

void BM_Patch(benchmark::State& state) {
  const uint32_t size = static_cast<uint32_t>(state.range(0));
  Rig rig;
  rig.add_patch(&rig.h0, "p0");
  rig.add_patch(&rig.h1, "p1");
  rig.dp->prepare();
  rig.learn();
  auto frame = udp_frame(2, 1, size);
  Packet* burst[64];
  uint64_t forwarded = 0;
  for (auto _ : state) {
    if (!rig.gen_pool->alloc_bulk(burst, 64)) {
      state.SkipWithError("generator pool empty");
      break;
    }
    for (Packet* p : burst)
      std::memcpy(p->append(size), frame.data(), size);
    rig.h0->tx_burst(0, burst, 64);
    forwarded += rig.dp->worker(0).run_once();
    rig.drain(*rig.h1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(forwarded));
  state.SetBytesProcessed(static_cast<int64_t>(forwarded * size));
}
BENCHMARK(BM_Patch)->Arg(64)->Arg(1500)->Name("Patch");

void BM_PcapReplay(benchmark::State& state) {
  // A capture of 64 frames of 64 bytes and 1500 bytes alternating, replayed in a loop.
  std::string path = "/tmp/ferry_forward_bench_" + std::to_string(getpid()) + ".pcap";
  {
    std::string error;
    auto w = pcap::PcapWriter::create(path, &error);
    if (!w) {
      state.SkipWithError(error.c_str());
      return;
    }
    for (int i = 0; i < 64; i++)
      w->write(udp_frame(2, 1, i % 2 ? 1500 : 64), 0);
    w->flush();
  }
  Rig rig;
  port::PcapPortConfig rc;
  rc.name = "replay";
  rc.rx_path = path;
  rc.loop = true;
  rc.pool = &rig.dp->worker(0).pool();
  std::string error;
  auto replay = port::PcapPort::create(rc, &error);
  if (!replay) {
    state.SkipWithError(error.c_str());
    return;
  }
  rig.dp->add_port(std::move(replay));
  rig.add_patch(&rig.h1, "p1");
  rig.dp->prepare();
  // Learn the destination on the patch port.
  auto f = udp_frame(1, 2, 64);
  Packet* p = rig.gen_pool->alloc();
  std::memcpy(p->append(static_cast<uint32_t>(f.size())), f.data(), f.size());
  rig.h1->tx_burst(0, &p, 1);
  uint64_t forwarded = 0;
  for (auto _ : state) {
    forwarded += rig.dp->worker(0).run_once();
    rig.drain(*rig.h1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(forwarded));
  unlink(path.c_str());
}
BENCHMARK(BM_PcapReplay)->Name("PcapReplay/mixed64+1500");

}  // namespace

BENCHMARK_MAIN();
