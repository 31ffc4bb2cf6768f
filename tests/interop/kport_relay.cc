// kport_relay: two kernel-facing Ferry ports (TAP, AF_PACKET, AF_XDP) patched together on
// one thread, for the interop tests of those ports.
//
//   kport_relay [--offloads on|off] [--queues N] [--seconds S] [--big-buffers] [--spin N]
//               [--ready FILE] PORT PORT
//     PORT = tap:IFNAME | afpacket:IFNAME | afxdp:IFNAME
//
// What one port receives on queue q is sent on queue q (modulo the other's queue count) of
// the other. TAP interfaces are created by the relay (so the test can move them into
// network namespaces once FILE exists); AF_PACKET and AF_XDP bind to existing interfaces.
// The thread busy-polls and, after a run of empty polls, sleeps in poll() on the ports'
// descriptors. On SIGINT/SIGTERM (or after S seconds) it prints per port lines the tests
// parse:
//   stat NAME rx=N rx_gso=N rx_gso_1448=N rx_partial=N rx_max=N tx=N tx_drops=N
//        tx_not_ready=N rx_drops=N ...
// (tx_drops leaves out kNotReady: frames sent to an interface that is still down while a
// test configures the namespaces).
// followed by the ports' counters.

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <poll.h>
#include <signal.h>
#include <time.h>

#include "packet/buffer_pool.h"
#include "port/af_packet_port.h"
#include "port/af_xdp_port.h"
#include "port/tap_port.h"

using namespace ferry;
using namespace ferry::port;

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

struct Observed {
  uint64_t rx = 0, gso = 0, gso_1448 = 0, partial = 0, max_len = 0;
};

struct Side {
  std::unique_ptr<Port> port;
  std::vector<int> fds;
  Observed seen;
  std::string extra() const {
    std::string q = " rxq=";
    for (uint16_t i = 0; i < port->max_queues(); i++) {
      if (i > 0) q += ',';
      q += std::to_string(port->queue_stats(i).rx.packets);
    }
    return q + kind_extra();
  }
  std::string kind_extra() const {
    if (auto* t = dynamic_cast<const TapPort*>(port.get())) {
      char b[128];
      std::snprintf(b, sizeof(b), " tun_offloads=0x%x tx_errno=%d rx_errno=%d",
                    t->kernel_offloads(), t->counters().last_tx_errno, t->counters().last_rx_errno);
      return b;
    }
    if (auto* x = dynamic_cast<const AfXdpPort*>(port.get())) {
      XdpSocketStats s = x->socket_stats(0);
      char b[200];
      std::snprintf(b, sizeof(b),
                    " zerocopy=%d zc_fallbacks=%" PRIu64 " busy_retries=%" PRIu64
                    " xdp_rx_dropped=%" PRIu64 " xdp_rx_ring_full=%" PRIu64,
                    x->zerocopy() ? 1 : 0, x->counters().zerocopy_fallbacks,
                    x->counters().busy_retries, s.rx_dropped, s.rx_ring_full);
      return b;
    }
    return "";
  }
};

bool make_port(const std::string& spec, const std::string& name, bool offloads, uint16_t queues,
               BufferPool* pool, Side* side, std::string* error) {
  size_t colon = spec.find(':');
  if (colon == std::string::npos) {
    *error = "bad port spec " + spec;
    return false;
  }
  std::string kind = spec.substr(0, colon), ifname = spec.substr(colon + 1);
  if (kind == "tap") {
    TapPortConfig c;
    c.name = name;
    c.ifname = ifname;
    c.queues = queues;
    c.offloads = offloads;
    c.pool = pool;
    auto p = TapPort::create(c, error);
    if (!p) return false;
    for (uint16_t q = 0; q < p->num_queues(); q++)
      side->fds.push_back(p->fd(q));
    side->port = std::move(p);
  } else if (kind == "afpacket") {
    AfPacketPortConfig c;
    c.name = name;
    c.ifname = ifname;
    c.queues = queues;
    c.offloads = offloads;
    c.pool = pool;
    auto p = AfPacketPort::create(c, error);
    if (!p) return false;
    for (uint16_t q = 0; q < p->num_queues(); q++)
      side->fds.push_back(p->fd(q));
    side->port = std::move(p);
  } else if (kind == "afxdp") {
    AfXdpPortConfig c;
    c.name = name;
    c.ifname = ifname;
    c.queues = queues;
    c.pool = pool;
    auto p = AfXdpPort::create(c, error);
    if (!p) return false;
    for (uint16_t q = 0; q < p->num_queues(); q++)
      side->fds.push_back(p->fd(q));
    side->port = std::move(p);
  } else {
    *error = "unknown port kind " + kind;
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  bool offloads = true;
  bool big = false;
  uint32_t spin = 256;  // empty polls before sleeping in poll()  // one 64 KiB buffer per frame
                        // instead of chains of 2 KiB segments
  uint16_t queues = 1;
  double seconds = 0;
  std::string ready;
  std::vector<std::string> specs;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--offloads" && i + 1 < argc) {
      offloads = std::string(argv[++i]) == "on";
    } else if (a == "--queues" && i + 1 < argc) {
      queues = static_cast<uint16_t>(std::atoi(argv[++i]));
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--spin" && i + 1 < argc) {
      spin = static_cast<uint32_t>(std::atoi(argv[++i]));
    } else if (a == "--big-buffers") {
      big = true;
    } else if (a == "--ready" && i + 1 < argc) {
      ready = argv[++i];
    } else {
      specs.push_back(a);
    }
  }
  if (specs.size() != 2) {
    std::fprintf(stderr,
                 "usage: kport_relay [--offloads on|off] [--queues N] [--seconds S] "
                 "[--ready FILE] PORT PORT\n");
    return 2;
  }
  BufferPool::Config pc;
  pc.name = "relay";
  pc.buffer_count = big ? 1024 : 16384;
  if (big) pc.data_room = TapPort::kMaxFrameLen;
  auto pool = BufferPool::create(pc);
  if (!pool) {
    std::fprintf(stderr, "kport_relay: no buffer pool\n");
    return 1;
  }
  Side sides[2];
  for (int s = 0; s < 2; s++) {
    std::string error;
    if (!make_port(specs[s], s == 0 ? "a" : "b", offloads, queues, pool.get(), &sides[s], &error)) {
      std::fprintf(stderr, "kport_relay: %s\n", error.c_str());
      return 1;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (!ready.empty()) std::ofstream(ready) << "ready\n";
  std::printf("ready\n");
  std::fflush(stdout);

  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  std::vector<struct pollfd> pfds;
  for (Side& s : sides)
    for (int fd : s.fds)
      pfds.push_back({fd, POLLIN, 0});
  Packet* pkts[64];
  uint32_t idle = 0;
  uint64_t loops = 0;
  while (!g_stop) {
    bool any = false;
    for (int s = 0; s < 2; s++) {
      Side& in = sides[s];
      Side& out = sides[1 - s];
      for (uint16_t q = 0; q < in.port->num_queues(); q++) {
        uint16_t n = in.port->rx_burst(q, pkts, 64);
        if (n == 0) continue;
        any = true;
        for (uint16_t i = 0; i < n; i++) {
          const Packet* p = pkts[i];
          in.seen.rx++;
          if (p->is_gso()) in.seen.gso++;
          if (p->is_gso() && p->gso_size() == 1448) in.seen.gso_1448++;
          if (p->csum_state() == CsumState::kPartial) in.seen.partial++;
          if (p->pkt_len() > in.seen.max_len) in.seen.max_len = p->pkt_len();
        }
        uint16_t oq = static_cast<uint16_t>(q % out.port->num_queues());
        out.port->tx_burst(oq, pkts, n);
      }
    }
    if (any) {
      idle = 0;
      continue;
    }
    if (++idle > spin) {
      poll(pfds.data(), pfds.size(), 2);
      // AF_XDP completions are reclaimed in tx_burst: kick it now and then while idle.
      for (Side& s : sides)
        s.port->tx_burst(0, pkts, 0);
    }
    if ((++loops & 1023) == 0 && seconds > 0) {
      struct timespec t;
      clock_gettime(CLOCK_MONOTONIC, &t);
      if (static_cast<double>(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) * 1e-9 > seconds) {
        break;
      }
    }
  }
  for (Side& s : sides) {
    QueueStats st = s.port->stats();
    std::printf("stat %s rx=%" PRIu64 " rx_gso=%" PRIu64 " rx_gso_1448=%" PRIu64
                " rx_partial=%" PRIu64 " rx_max=%" PRIu64 " tx=%" PRIu64 " tx_drops=%" PRIu64
                " tx_not_ready=%" PRIu64 " rx_drops=%" PRIu64 "%s\n",
                s.port->name().c_str(), s.seen.rx, s.seen.gso, s.seen.gso_1448, s.seen.partial,
                s.seen.max_len, st.tx.packets,
                st.tx.total_drops() - st.tx.drops[static_cast<unsigned>(DropReason::kNotReady)],
                st.tx.drops[static_cast<unsigned>(DropReason::kNotReady)], st.rx.total_drops(),
                s.extra().c_str());
    std::printf("%s", format_stats("port " + s.port->name(), st).c_str());
  }
  std::fflush(stdout);
  return 0;
}
