#include "port/tap_port.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <fcntl.h>
#include <unistd.h>

#include "packet/segment_reader.h"
#include "port/vnet_offload.h"

// Newer than Debian 12's UAPI headers (Linux 6.2).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

namespace ferry::port {

namespace {

constexpr uint16_t kMaxBurst = 64;
// iovecs per frame: the header, the head and the spare segments (or a chain's segments).
constexpr uint32_t kMaxIov = 128;

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

unsigned negotiate_tun_offloads(int fd, unsigned wanted) {
  const unsigned steps[] = {
      0u,                                   // all that was asked for
      TUN_F_USO4 | TUN_F_USO6,              // a kernel before 6.2: no USO
      TUN_F_USO4 | TUN_F_USO6 | TUN_F_UFO,  // no UFO either
      TUN_F_USO4 | TUN_F_USO6 | TUN_F_UFO | TUN_F_TSO_ECN,
      TUN_F_USO4 | TUN_F_USO6 | TUN_F_UFO | TUN_F_TSO_ECN | TUN_F_TSO4 | TUN_F_TSO6,
  };
  for (unsigned drop : steps) {
    unsigned f = wanted & ~drop;
    if (f == 0) break;
    if (::ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(f)) == 0) return f;
  }
  ::ioctl(fd, TUNSETOFFLOAD, 0UL);
  return 0;
}

std::unique_ptr<TapPort> TapPort::create(TapPortConfig config, std::string* error) {
  if (config.pool == nullptr) {
    *error = config.name + ": no buffer pool";
    return nullptr;
  }
  if (config.ifname.size() >= IFNAMSIZ) {
    *error = config.name + ": interface name '" + config.ifname + "' too long";
    return nullptr;
  }
  uint16_t queues = std::max<uint16_t>(1, config.queues);
  std::vector<int> fds;
  auto fail = [&](const std::string& what) {
    *error = config.name + ": " + what;
    for (int fd : fds)
      ::close(fd);
    return nullptr;
  };
  std::string ifname = config.ifname;
  for (uint16_t q = 0; q < queues; q++) {
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail(errno_text("open /dev/net/tun"));
    fds.push_back(fd);
    struct ifreq ifr {};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (queues > 1) ifr.ifr_flags |= IFF_MULTI_QUEUE;
    std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
    if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
      return fail(errno_text(("TUNSETIFF " + (ifname.empty() ? "tap%d" : ifname)).c_str()));
    }
    ifname.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
    int hdr_len = kVnetHdrV1Len;
    if (::ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) != 0) return fail(errno_text("TUNSETVNETHDRSZ"));
  }
  unsigned offloads = 0;
  if (config.offloads) {
    offloads = negotiate_tun_offloads(fds[0], TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN |
                                                  TUN_F_UFO | TUN_F_USO4 | TUN_F_USO6);
  } else if (::ioctl(fds[0], TUNSETOFFLOAD, 0UL) != 0) {
    return fail(errno_text("TUNSETOFFLOAD"));
  }
  return std::unique_ptr<TapPort>(
      new TapPort(std::move(config), std::move(fds), std::move(ifname), offloads));
}

TapPort::TapPort(TapPortConfig config, std::vector<int> fds, std::string ifname, unsigned offloads)
    : Port(config.name),
      config_(std::move(config)),
      fds_(std::move(fds)),
      queues_(fds_.size()),
      ifname_(std::move(ifname)),
      tun_offloads_(offloads) {
  // What Ferry may receive follows TUNSETOFFLOAD; what it may send follows the same
  // negotiation (the kernel takes any virtio-net header on write, but a port with offloads
  // off is asked to behave like a NIC without them).
  if (offloads & TUN_F_CSUM) caps_ |= kCapRxCsum | kCapTxCsum;
  if (offloads & (TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO | TUN_F_USO4)) caps_ |= kCapRxLarge;
  if (offloads & TUN_F_TSO4) caps_ |= kCapTxTso4;
  if (offloads & TUN_F_TSO6) caps_ |= kCapTxTso6;
  if (offloads & TUN_F_TSO_ECN) caps_ |= kCapTxEcn;
  if (offloads & TUN_F_UFO) caps_ |= kCapTxUfo;
  if (offloads & TUN_F_USO4) caps_ |= kCapTxUso;
  uint32_t head_room = config_.pool->data_room();
  uint32_t seg_room = config_.pool->buffer_len();
  spares_needed_ =
      head_room >= kMaxFrameLen ? 0 : (kMaxFrameLen - head_room + seg_room - 1) / seg_room;
  if (spares_needed_ > kMaxIov - 2) spares_needed_ = kMaxIov - 2;
  char line[160];
  std::snprintf(line, sizeof(line), "%s: tap %s, %zu queue(s), offloads 0x%x%s", name().c_str(),
                ifname_.c_str(), fds_.size(), offloads,
                config_.offloads ? "" : " (off by configuration)");
  log(line);
}

TapPort::~TapPort() {
  for (Queue& q : queues_) {
    free_packets(q.spare.data(), static_cast<uint32_t>(q.spare.size()));
  }
  for (int fd : fds_)
    ::close(fd);
}

void TapPort::log(const std::string& line) const {
  if (config_.log) {
    config_.log(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

bool TapPort::refill_spares(Queue& q) {
  BufferPool& pool = *config_.pool;
  while (q.spare.size() < spares_needed_) {
    Packet* s = pool.alloc();
    if (s == nullptr) return false;
    // A tail segment uses its whole buffer.
    s->move_data(-static_cast<int32_t>(s->headroom()));
    q.spare.push_back(s);
  }
  return true;
}

// Reads one frame into a head buffer plus spare segments. nullptr with *again when the
// kernel has nothing (or Ferry has no buffers: the frame then waits in the kernel's queue).
Packet* TapPort::read_frame(int fd, Queue& q, bool* again) {
  DirectionStats& d = q.stats.rx;
  if (!refill_spares(q)) {
    d.drop(DropReason::kNoPoolBuffers);
    *again = true;
    return nullptr;
  }
  Packet* head = config_.pool->alloc();
  if (head == nullptr) {
    d.drop(DropReason::kNoPoolBuffers);
    *again = true;
    return nullptr;
  }
  virtio_net_hdr_v1 hdr;
  struct iovec iov[kMaxIov];
  iov[0] = {&hdr, kVnetHdrV1Len};
  iov[1] = {head->data(), head->tailroom()};
  uint32_t cnt = 2;
  uint64_t capacity = head->tailroom();
  // Spares are used from the back of the vector, so the used ones are popped.
  for (size_t i = q.spare.size(); i-- > 0;) {
    Packet* s = q.spare[i];
    iov[cnt++] = {s->data(), s->tailroom()};
    capacity += s->tailroom();
  }
  ssize_t n = ::readv(fd, iov, static_cast<int>(cnt));
  if (n < 0) {
    free_packet(head);
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      *again = true;
    } else if (errno == EFAULT || errno == EMSGSIZE) {
      d.drop(DropReason::kTooBig);
    } else {
      counters_.rx_errors++;
      counters_.last_rx_errno = errno;
      *again = true;  // EIO, EBADFD...: try again next burst
    }
    return nullptr;
  }
  if (static_cast<size_t>(n) <= kVnetHdrV1Len) {
    free_packet(head);
    d.drop(DropReason::kTruncated);
    return nullptr;
  }
  uint64_t frame_len = static_cast<uint64_t>(n) - kVnetHdrV1Len;
  if (frame_len > capacity) {
    free_packet(head);
    d.drop(DropReason::kTooBig);
    return nullptr;
  }
  uint32_t left = static_cast<uint32_t>(frame_len);
  uint32_t m = std::min(left, head->tailroom());
  head->append(m);
  left -= m;
  while (left > 0) {
    Packet* s = q.spare.back();
    q.spare.pop_back();
    m = std::min(left, s->tailroom());
    s->append(m);
    head->append_segment(s);
    left -= m;
  }
  virtio::NetHdrError err;
  if (!vnet_to_packet(&hdr, static_cast<uint32_t>(frame_len), head, &err)) {
    free_packet(head);
    d.drop(DropReason::kBadHeader);
    return nullptr;
  }
  if (head->is_gso()) counters_.rx_gso++;
  if (head->csum_state() == CsumState::kPartial) counters_.rx_csum_partial++;
  return head;
}

uint16_t TapPort::rx_burst(uint16_t queue, Packet** pkts, uint16_t max) {
  if (queue >= fds_.size()) return 0;
  if (max > kMaxBurst) max = kMaxBurst;
  Queue& q = queues_[queue];
  int fd = fds_[queue];
  uint16_t out = 0;
  uint64_t bytes = 0;
  // A burst ends at max packets or when the kernel has nothing more; a dropped frame does
  // not end it.
  for (uint32_t tries = 0; out < max && tries < 2u * max; tries++) {
    bool again = false;
    Packet* p = read_frame(fd, q, &again);
    if (p != nullptr) {
      pkts[out++] = p;
      bytes += p->pkt_len();
    } else if (again) {
      break;
    }
  }
  DirectionStats& d = q.stats.rx;
  d.packets += out;
  d.bytes += bytes;
  d.note_burst(out);
  return out;
}

uint16_t TapPort::tx_burst(uint16_t queue, Packet** pkts, uint16_t n) {
  if (n == 0) return 0;
  if (queue >= fds_.size()) {
    queues_[0].stats.tx.drop(DropReason::kBadQueue, n);
    free_packets(pkts, n);
    return 0;
  }
  Queue& q = queues_[queue];
  DirectionStats& d = q.stats.tx;
  int fd = fds_[queue];
  uint16_t sent = 0;
  uint64_t bytes = 0;
  uint16_t i = 0;
  for (; i < n; i++) {
    Packet* p = pkts[i];
    DropReason reason;
    if (!fit_tx_offloads(p, caps_, q.stats, &reason)) {
      d.drop(reason);
      free_packet(p);
      continue;
    }
    virtio_net_hdr_v1 hdr;
    if (!packet_to_vnet(*p, &hdr)) {
      d.drop(DropReason::kOffloadUnsupported);
      free_packet(p);
      continue;
    }
    struct iovec iov[kMaxIov];
    iov[0] = {&hdr, kVnetHdrV1Len};
    uint32_t cnt = 1;
    uint32_t len = chain_length(*p);
    uint32_t left = len;
    for (Packet* s = p; s != nullptr && left > 0 && cnt < kMaxIov; s = s->next()) {
      uint32_t m = std::min(s->data_len(), left);
      if (m == 0) continue;
      iov[cnt++] = {s->data(), m};
      left -= m;
    }
    if (left > 0 || len == 0) {
      d.drop(len == 0 ? DropReason::kTruncated : DropReason::kTooBig);
      free_packet(p);
      continue;
    }
    ssize_t w = ::writev(fd, iov, static_cast<int>(cnt));
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break;
      counters_.tx_errors++;
      counters_.last_tx_errno = errno;
      d.drop(errno == EINVAL ? DropReason::kBadHeader : DropReason::kNotReady);
      free_packet(p);
      continue;
    }
    if (p->is_gso()) counters_.tx_gso++;
    bytes += len;
    sent++;
    free_packet(p);
  }
  if (i < n) {
    // The kernel's queue is full: the rest of the burst is dropped.
    d.drop(DropReason::kRingFull, n - i);
    free_packets(pkts + i, n - i);
  }
  d.packets += sent;
  d.bytes += bytes;
  d.note_burst(sent);
  return sent;
}

}  // namespace ferry::port
