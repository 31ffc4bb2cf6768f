#include "port/af_xdp_port.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <thread>

#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <unistd.h>

#include "packet/packet_bytes.h"
#include "packet/segment_reader.h"
#include "port/vnet_offload.h"

#if FERRY_HAVE_LIBXDP
#include <linux/if_link.h>
#include <linux/if_xdp.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>
#endif

namespace ferry::port {

namespace {
constexpr uint16_t kMaxBurst = 64;
}  // namespace

#if FERRY_HAVE_LIBXDP

namespace {

constexpr uint32_t kFrameSize = XSK_UMEM__DEFAULT_FRAME_SIZE;

// libxdp and libbpf print through global hooks; while a port is being set up their
// messages are collected here and reported with Ferry's own error or log line.
thread_local std::string* g_lib_messages = nullptr;

void collect(const char* fmt, va_list ap) {
  if (g_lib_messages == nullptr) return;
  char buf[512];
  vsnprintf(buf, sizeof(buf), fmt, ap);
  std::string line(buf);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' '))
    line.pop_back();
  // libbpf notes about ELF sections of libxdp's own program are not news.
  if (line.empty() || line.find("skipping unrecognized data section") != std::string::npos) return;
  if (g_lib_messages->find(line) != std::string::npos) return;
  if (!g_lib_messages->empty()) *g_lib_messages += "; ";
  *g_lib_messages += line;
}

int xdp_print(enum libxdp_print_level level, const char* fmt, va_list ap) {
  if (level == LIBXDP_DEBUG) return 0;
  collect(fmt, ap);
  return 0;
}

int bpf_print(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  collect(fmt, ap);
  return 0;
}

}  // namespace

struct AfXdpPort::Queue {
  uint32_t queue_id = 0;
  void* area = nullptr;
  size_t area_len = 0;
  struct xsk_umem* umem = nullptr;
  struct xsk_socket* xsk = nullptr;
  struct xsk_ring_prod fill {};
  struct xsk_ring_cons comp {};
  struct xsk_ring_cons rx {};
  struct xsk_ring_prod tx {};
  std::vector<uint64_t> free_frames;  // UMEM addresses available for tx
  uint32_t tx_outstanding = 0;        // frames submitted and not completed yet
  QueueStats stats;

  ~Queue() {
    if (xsk != nullptr) xsk_socket__delete(xsk);
    if (umem != nullptr) xsk_umem__delete(umem);
    if (area != nullptr) ::munmap(area, area_len);
  }
  uint8_t* frame(uint64_t addr) { return static_cast<uint8_t*>(xsk_umem__get_data(area, addr)); }
};

namespace {

// One attempt at a UMEM and a socket bound with bind_flags; 0 or -errno.
int try_bind(AfXdpPort::Queue& q, const AfXdpPortConfig& c, uint16_t bind_flags) {
  struct xsk_umem_config uc {};
  uc.fill_size = c.ring_size;
  uc.comp_size = c.ring_size;
  uc.frame_size = kFrameSize;
  uc.frame_headroom = 0;
  uc.flags = 0;
  int err = xsk_umem__create(&q.umem, q.area, q.area_len, &q.fill, &q.comp, &uc);
  if (err != 0) {
    q.umem = nullptr;
    return err;
  }
  struct xsk_socket_config sc {};
  sc.rx_size = c.ring_size;
  sc.tx_size = c.ring_size;
  sc.libxdp_flags = 0;
  sc.xdp_flags = c.mode == XdpAttachMode::kNative ? XDP_FLAGS_DRV_MODE
                 : c.mode == XdpAttachMode::kSkb  ? XDP_FLAGS_SKB_MODE
                                                  : 0;
  sc.bind_flags = static_cast<uint16_t>(bind_flags | XDP_USE_NEED_WAKEUP);
  err = xsk_socket__create(&q.xsk, c.ifname.c_str(), q.queue_id, q.umem, &q.rx, &q.tx, &sc);
  if (err != 0) {
    // The UMEM's rings belong to the failed socket: start the next attempt from scratch.
    q.xsk = nullptr;
    xsk_umem__delete(q.umem);
    q.umem = nullptr;
  }
  return err;
}

}  // namespace

std::unique_ptr<AfXdpPort> AfXdpPort::create(AfXdpPortConfig config, std::string* error) {
  if (config.pool == nullptr) {
    *error = config.name + ": no buffer pool";
    return nullptr;
  }
  if (if_nametoindex(config.ifname.c_str()) == 0) {
    *error = config.name + ": interface '" + config.ifname + "': " + std::strerror(errno);
    return nullptr;
  }
  if (config.ring_size == 0 || (config.ring_size & (config.ring_size - 1)) != 0 ||
      config.frames < 2 * config.ring_size) {
    *error = config.name + ": ring size must be a power of two and frames >= 2 * ring size";
    return nullptr;
  }
  std::unique_ptr<AfXdpPort> port(new AfXdpPort(std::move(config)));
  const AfXdpPortConfig& c = port->config_;
  std::string messages;
  g_lib_messages = &messages;
  libxdp_print_fn_t old_xdp = libxdp_set_print(xdp_print);
  libbpf_print_fn_t old_bpf = libbpf_set_print(bpf_print);
  auto restore = [&] {
    libxdp_set_print(old_xdp);
    libbpf_set_print(old_bpf);
    g_lib_messages = nullptr;
  };
  bool all_zerocopy = true;
  std::string mode_note;
  for (uint16_t i = 0; i < std::max<uint16_t>(1, c.queues); i++) {
    auto q = std::make_unique<Queue>();
    q->queue_id = i;
    q->area_len = size_t{c.frames} * kFrameSize;
    void* m =
        ::mmap(nullptr, q->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      restore();
      *error = c.name + ": mmap UMEM: " + std::strerror(errno);
      return nullptr;
    }
    q->area = m;
    int err = -EOPNOTSUPP;
    bool zc = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(c.busy_retry_ms);
    for (;;) {
      if (c.try_zerocopy) {
        err = try_bind(*q, c, XDP_ZEROCOPY);
        zc = err == 0;
        if (err != 0 && err != -EBUSY) {
          mode_note = std::string("zero-copy refused (") + std::strerror(-err) + "), copy mode";
          port->counters_.zerocopy_fallbacks++;
        }
      }
      if (err != 0 && err != -EBUSY) err = try_bind(*q, c, XDP_COPY);
      if (err != -EBUSY || std::chrono::steady_clock::now() >= deadline) break;
      // The queue is still held by a socket closed a moment ago.
      port->counters_.busy_retries++;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    if (err != 0) {
      restore();
      *error = c.name + ": AF_XDP socket on " + c.ifname + " queue " + std::to_string(i) + ": " +
               std::strerror(-err) + (messages.empty() ? "" : " (libxdp: " + messages + ")") +
               "; use an af_packet port instead";
      return nullptr;
    }
    all_zerocopy = all_zerocopy && zc;
    // Half the frames feed the kernel, the other half wait for tx.
    uint32_t fill_n = c.frames / 2;
    uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&q->fill, fill_n, &idx) != fill_n) {
      fill_n = std::min(fill_n, c.ring_size);
      xsk_ring_prod__reserve(&q->fill, fill_n, &idx);
    }
    for (uint32_t f = 0; f < fill_n; f++)
      *xsk_ring_prod__fill_addr(&q->fill, idx + f) = uint64_t{f} * kFrameSize;
    xsk_ring_prod__submit(&q->fill, fill_n);
    for (uint32_t f = c.frames; f-- > fill_n;)
      q->free_frames.push_back(uint64_t{f} * kFrameSize);
    port->queues_.push_back(std::move(q));
  }
  restore();
  port->zerocopy_ = all_zerocopy;
  port->log(c.name + ": af_xdp on " + c.ifname + ", " + std::to_string(port->queues_.size()) +
            " queue(s), " +
            (all_zerocopy        ? "zero-copy"
             : mode_note.empty() ? "copy mode"
                                 : mode_note) +
            (messages.empty() ? "" : " [libxdp: " + messages + "]"));
  return port;
}

AfXdpPort::AfXdpPort(AfXdpPortConfig config) : Port(config.name), config_(std::move(config)) {}

AfXdpPort::~AfXdpPort() = default;

uint16_t AfXdpPort::num_queues() const {
  return static_cast<uint16_t>(queues_.size());
}

const QueueStats& AfXdpPort::queue_stats(uint16_t queue) const {
  return queues_[queue]->stats;
}

int AfXdpPort::fd(uint16_t queue) const {
  return xsk_socket__fd(queues_[queue]->xsk);
}

XdpSocketStats AfXdpPort::socket_stats(uint16_t queue) const {
  XdpSocketStats s;
  struct xdp_statistics k {};
  socklen_t len = sizeof(k);
  if (::getsockopt(fd(queue), SOL_XDP, XDP_STATISTICS, &k, &len) == 0) {
    s.rx_dropped = k.rx_dropped;
    s.rx_invalid_descs = k.rx_invalid_descs;
    s.tx_invalid_descs = k.tx_invalid_descs;
    s.rx_ring_full = k.rx_ring_full;
    s.rx_fill_ring_empty_descs = k.rx_fill_ring_empty_descs;
    s.tx_ring_empty_descs = k.tx_ring_empty_descs;
  }
  return s;
}

uint16_t AfXdpPort::rx_burst(uint16_t queue, Packet** pkts, uint16_t max) {
  if (queue >= queues_.size()) return 0;
  if (max > kMaxBurst) max = kMaxBurst;
  Queue& q = *queues_[queue];
  DirectionStats& d = q.stats.rx;
  uint32_t idx = 0;
  uint32_t n = xsk_ring_cons__peek(&q.rx, max, &idx);
  if (n == 0) {
    if (xsk_ring_prod__needs_wakeup(&q.fill)) {
      counters_.fill_wakeups++;
      ::recvfrom(fd(queue), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }
    return 0;
  }
  uint32_t fidx = 0;
  // Every frame taken from rx goes back to the fill ring, which has room for it: the
  // frames in the fill and rx rings together never exceed the fill ring's size.
  uint32_t reserved = xsk_ring_prod__reserve(&q.fill, n, &fidx);
  uint16_t out = 0;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < n; i++) {
    const struct xdp_desc* desc = xsk_ring_cons__rx_desc(&q.rx, idx + i);
    uint64_t addr = desc->addr;
    uint32_t len = desc->len;
    if (addr >= q.area_len || len == 0 || len > kFrameSize - (addr % kFrameSize)) {
      d.drop(DropReason::kQueueBroken);
    } else {
      Packet* p = packet_from_bytes(*config_.pool, {q.frame(addr), len});
      if (p == nullptr) {
        d.drop(DropReason::kNoPoolBuffers);
      } else {
        pkts[out++] = p;
        bytes += len;
      }
    }
    if (i < reserved) {
      *xsk_ring_prod__fill_addr(&q.fill, fidx + i) = addr - (addr % kFrameSize);
    } else {
      q.free_frames.push_back(addr - (addr % kFrameSize));
    }
  }
  xsk_ring_cons__release(&q.rx, n);
  xsk_ring_prod__submit(&q.fill, reserved);
  d.packets += out;
  d.bytes += bytes;
  d.note_burst(out);
  return out;
}

uint16_t AfXdpPort::tx_burst(uint16_t queue, Packet** pkts, uint16_t n) {
  if (n == 0) return 0;
  if (queue >= queues_.size()) {
    queues_[0]->stats.tx.drop(DropReason::kBadQueue, n);
    free_packets(pkts, n);
    return 0;
  }
  Queue& q = *queues_[queue];
  DirectionStats& d = q.stats.tx;
  // Reclaim the frames the kernel has sent.
  uint32_t cidx = 0;
  uint32_t done = xsk_ring_cons__peek(&q.comp, config_.ring_size, &cidx);
  for (uint32_t i = 0; i < done; i++) {
    uint64_t addr = *xsk_ring_cons__comp_addr(&q.comp, cidx + i);
    q.free_frames.push_back(addr - (addr % kFrameSize));
  }
  xsk_ring_cons__release(&q.comp, done);
  q.tx_outstanding -= std::min(q.tx_outstanding, done);

  // Copy into free frames first, then publish exactly that many descriptors.
  uint64_t addrs[kMaxBurst];
  uint32_t lens[kMaxBurst];
  uint32_t ready = 0;
  uint16_t i = 0;
  for (; i < n && ready < kMaxBurst && !q.free_frames.empty(); i++) {
    Packet* p = pkts[i];
    DropReason reason = DropReason::kOffloadUnsupported;
    if (!fit_tx_offloads(p, 0, q.stats, &reason)) {
      d.drop(reason);
      free_packet(p);
      continue;
    }
    uint32_t len = chain_length(*p);
    if (len > kFrameSize || len == 0) {
      d.drop(len == 0 ? DropReason::kTruncated : DropReason::kTooBig);
      free_packet(p);
      continue;
    }
    uint64_t addr = q.free_frames.back();
    q.free_frames.pop_back();
    uint8_t* dst = q.frame(addr);
    uint32_t left = len;
    for (const Packet* s = p; s != nullptr && left > 0; s = s->next()) {
      uint32_t m = std::min(s->data_len(), left);
      std::memcpy(dst, s->data(), m);
      dst += m;
      left -= m;
    }
    addrs[ready] = addr;
    lens[ready] = len;
    ready++;
    free_packet(p);
  }
  uint32_t tidx = 0;
  uint32_t used = ready == 0 ? 0 : xsk_ring_prod__reserve(&q.tx, ready, &tidx);
  uint64_t bytes = 0;
  for (uint32_t k = 0; k < used; k++) {
    struct xdp_desc* desc = xsk_ring_prod__tx_desc(&q.tx, tidx + k);
    desc->addr = addrs[k];
    desc->len = lens[k];
    desc->options = 0;
    bytes += lens[k];
  }
  if (used < ready) {
    // The tx ring is full: these frames go back unsent.
    d.drop(DropReason::kRingFull, ready - used);
    for (uint32_t k = used; k < ready; k++)
      q.free_frames.push_back(addrs[k]);
  }
  if (used > 0) {
    xsk_ring_prod__submit(&q.tx, used);
    q.tx_outstanding += used;
  }
  if (q.tx_outstanding > 0 && xsk_ring_prod__needs_wakeup(&q.tx)) {
    counters_.tx_wakeups++;
    ::sendto(fd(queue), nullptr, 0, MSG_DONTWAIT, nullptr, 0);
  }
  if (i < n) {
    // No free UMEM frame (or more than a burst): the rest is dropped.
    d.drop(DropReason::kRingFull, n - i);
    free_packets(pkts + i, n - i);
  }
  d.packets += used;
  d.bytes += bytes;
  d.note_burst(used);
  return static_cast<uint16_t>(used);
}

void AfXdpPort::log(const std::string& line) const {
  if (config_.log) {
    config_.log(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

#else  // !FERRY_HAVE_LIBXDP

struct AfXdpPort::Queue {
  QueueStats stats;
};

std::unique_ptr<AfXdpPort> AfXdpPort::create(AfXdpPortConfig config, std::string* error) {
  *error = config.name +
           ": Ferry was built without libxdp/libbpf (AF_XDP unavailable); "
           "use an af_packet port instead";
  return nullptr;
}
AfXdpPort::AfXdpPort(AfXdpPortConfig config) : Port(config.name), config_(std::move(config)) {}
AfXdpPort::~AfXdpPort() = default;
uint16_t AfXdpPort::num_queues() const {
  return 0;
}
const QueueStats& AfXdpPort::queue_stats(uint16_t queue) const {
  return queues_[queue]->stats;
}
int AfXdpPort::fd(uint16_t) const {
  return -1;
}
XdpSocketStats AfXdpPort::socket_stats(uint16_t) const {
  return {};
}
uint16_t AfXdpPort::rx_burst(uint16_t, Packet**, uint16_t) {
  return 0;
}
uint16_t AfXdpPort::tx_burst(uint16_t, Packet** pkts, uint16_t n) {
  free_packets(pkts, n);
  return 0;
}
void AfXdpPort::log(const std::string& line) const {
  if (config_.log) config_.log(line);
}

#endif

}  // namespace ferry::port
