// ferry-patch: vhost-user ports patched pairwise on one poll-mode thread.
//
//   ferry-patch [--queues N] [--idle-sleep-us U] PORT PORT [PORT PORT ...]
//     PORT = name=NAME,socket=PATH[,client][,queues=N]   (or just PATH)
//
// Ports 0 and 1 are patched together, 2 and 3, and so on: what a guest sends on queue q of
// one port is delivered on queue q of the other (queue 0 if the other has fewer queues).
// The thread busy-polls the rings and, after a run of empty polls, sleeps U microseconds
// between polls (default 50) so that idle guests leave the CPU to others. The control
// events of every port (vhost-user messages) run on the same thread between bursts.
//
// SIGUSR1 prints the port and worker counters; SIGINT/SIGTERM print them, remove the
// sockets and exit.

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <signal.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "packet/buffer_pool.h"
#include "port/vhost_user_port.h"
#include "vhost/event_loop.h"
#include "virtio/features.h"

using namespace ferry;

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_dump = 0;

void on_signal(int sig) {
  if (sig == SIGUSR1) {
    g_dump = 1;
  } else {
    g_stop = 1;
  }
}

void usage() {
  std::fprintf(stderr,
               "usage: ferry-patch [--queues N] [--idle-sleep-us U] PORT PORT [PORT PORT ...]\n"
               "  PORT = name=NAME,socket=PATH[,client][,queues=N]  or  PATH\n");
}

bool parse_port(const std::string& spec, size_t index, uint16_t default_queues,
                port::VhostUserPortConfig* c) {
  c->name = "port" + std::to_string(index);
  c->queue_pairs = default_queues;
  c->mac = {0x52, 0x54, 0x00, 0x00, 0x01, static_cast<uint8_t>(index + 1)};
  if (spec.find('=') == std::string::npos) {
    c->socket_path = spec;
    return true;
  }
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t end = spec.find(',', pos);
    if (end == std::string::npos) end = spec.size();
    std::string kv = spec.substr(pos, end - pos);
    size_t eq = kv.find('=');
    std::string k = kv.substr(0, eq);
    std::string v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (k == "name") {
      c->name = v;
    } else if (k == "socket") {
      c->socket_path = v;
    } else if (k == "client") {
      c->client = true;
    } else if (k == "queues") {
      c->queue_pairs = static_cast<uint16_t>(std::atoi(v.c_str()));
    } else if (!k.empty()) {
      std::fprintf(stderr, "ferry-patch: unknown port option '%s'\n", k.c_str());
      return false;
    }
    pos = end + 1;
  }
  return !c->socket_path.empty() && c->queue_pairs >= 1;
}

// Where the worker's time goes, as Open vSwitch's pmd-stats-show reports it: cycles of
// all loop iterations and of those that moved packets. A worker that is rarely busy has
// capacity to spare, so whatever limits the traffic is elsewhere.
struct WorkerCycles {
  uint64_t total = 0;
  uint64_t busy = 0;
};

// The TSC where there is one (cheap enough to read every iteration), else the clock.
inline uint64_t cycles_now() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return std::chrono::steady_clock::now().time_since_epoch().count();
#endif
}

void dump(const std::vector<std::unique_ptr<port::VhostUserPort>>& ports,
          const WorkerCycles& cycles) {
  for (const auto& p : ports) {
    port::QueueStats s = p->stats();
    std::string text = port::format_stats("port " + p->name(), s);
    std::fputs(text.c_str(), stdout);
    for (uint16_t q = 0; q < p->max_queues() && p->max_queues() > 1; q++) {
      const port::QueueStats& qs = p->queue_stats(q);
      std::printf("  queue %u: rx %" PRIu64 " tx %" PRIu64 " drops %" PRIu64 "\n", q, qs.rx.packets,
                  qs.tx.packets, qs.rx.total_drops() + qs.tx.total_drops());
    }
    const port::NetControlState& c = p->control_state();
    std::printf("  features 0x%" PRIx64 " %s%s\n", p->features(),
                virtio::features_to_string(p->features()).c_str(), p->packed() ? " (packed)" : "");
    std::printf("  control commands %" PRIu64 " rejected %" PRIu64 " unknown %" PRIu64
                " promisc %d allmulti %d queue_pairs %u vlans %zu uc %zu mc %zu\n",
                c.commands, c.rejected, c.unknown, c.filter.promisc, c.filter.allmulti,
                c.queue_pairs, c.filter.vlans.count(), c.filter.unicast.size(),
                c.filter.multicast.size());
    std::printf("stats name=%s rx_packets=%" PRIu64 " rx_bytes=%" PRIu64 " rx_drops=%" PRIu64
                " tx_packets=%" PRIu64 " tx_bytes=%" PRIu64 " tx_drops=%" PRIu64
                " interrupts=%" PRIu64 " suppressed=%" PRIu64 " starts=%" PRIu64 " broken=%" PRIu64
                " ctrl_commands=%" PRIu64 " ctrl_rejected=%" PRIu64 " features=0x%" PRIx64 "\n",
                p->name().c_str(), s.rx.packets, s.rx.bytes, s.rx.total_drops(), s.tx.packets,
                s.tx.bytes, s.tx.total_drops(), s.interrupts, s.interrupts_suppressed, p->starts(),
                p->broken_rings(), c.commands, c.rejected, p->features());
  }
  std::printf("worker cycles=%" PRIu64 " busy_cycles=%" PRIu64 "\n", cycles.total, cycles.busy);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  uint16_t queues = 1;
  long idle_sleep_us = 50;
  std::vector<std::string> specs;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--queues" && i + 1 < argc) {
      queues = static_cast<uint16_t>(std::atoi(argv[++i]));
    } else if (a == "--idle-sleep-us" && i + 1 < argc) {
      idle_sleep_us = std::atol(argv[++i]);
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      specs.push_back(a);
    }
  }
  if (specs.size() < 2 || specs.size() % 2 != 0 || queues == 0) {
    usage();
    return 1;
  }

  BufferPool::Config pc;
  pc.name = "ferry-patch";
  pc.buffer_count = 16384;
  pc.data_room = 2048;
  std::unique_ptr<BufferPool> pool = BufferPool::create(pc);
  if (!pool) {
    std::fprintf(stderr, "ferry-patch: cannot create the buffer pool\n");
    return 1;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  vhost::EventLoop loop;
  std::vector<std::unique_ptr<port::VhostUserPort>> ports;
  for (size_t i = 0; i < specs.size(); i++) {
    port::VhostUserPortConfig c;
    if (!parse_port(specs[i], i, queues, &c)) {
      usage();
      return 1;
    }
    c.pool = pool.get();
    c.log = [](std::string_view line) {
      std::fprintf(stderr, "ferry-patch: %.*s\n", static_cast<int>(line.size()), line.data());
    };
    auto p = std::make_unique<port::VhostUserPort>(loop, c);
    std::string error;
    if (!p->start(&error)) {
      std::fprintf(stderr, "ferry-patch: %s: %s\n", c.name.c_str(), error.c_str());
      return 1;
    }
    std::fprintf(stderr, "ferry-patch: %s on %s (%s, %u queue pairs)\n", c.name.c_str(),
                 c.socket_path.c_str(), c.client ? "client" : "server", c.queue_pairs);
    ports.push_back(std::move(p));
  }
  std::fprintf(stderr, "ferry-patch: running\n");

  // 32 frames a burst, as testpmd forwards: larger bursts hold a ring's completions
  // back longer from a driver that is polling for them on the other core.
  constexpr uint16_t kBurst = 32;
  Packet* pkts[kBurst];
  WorkerCycles cycles;
  uint64_t iteration_start = cycles_now();
  uint32_t idle = 0;
  uint32_t iter = 0;
  while (!g_stop) {
    if ((++iter & 1023) == 0) loop.run_once(0);
    if (g_dump) {
      g_dump = 0;
      dump(ports, cycles);
    }
    uint64_t moved = 0;
    for (size_t i = 0; i < ports.size(); i += 2) {
      for (int dir = 0; dir < 2; dir++) {
        port::VhostUserPort& from = *ports[i + dir];
        port::VhostUserPort& to = *ports[i + 1 - dir];
        uint16_t nq = from.max_queues();
        for (uint16_t q = 0; q < nq; q++) {
          uint16_t n = from.rx_burst(q, pkts, kBurst);
          if (n == 0) continue;
          uint16_t out_q = q < to.num_queues() ? q : 0;
          to.tx_burst(out_q, pkts, n);
          moved += n;
        }
      }
    }
    if (moved != 0) {
      idle = 0;
    } else if (++idle > 256 && idle_sleep_us > 0) {
      loop.run_once(0);
      struct timespec ts = {0, idle_sleep_us * 1000};
      nanosleep(&ts, nullptr);
    }
    uint64_t now = cycles_now();
    cycles.total += now - iteration_start;
    if (moved != 0) cycles.busy += now - iteration_start;
    iteration_start = now;
  }
  dump(ports, cycles);
  for (auto& p : ports)
    p->stop();
  return 0;
}
