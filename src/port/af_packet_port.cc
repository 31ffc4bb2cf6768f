#include "port/af_packet_port.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/mman.h>

#include <unistd.h>

#include "packet/packet_bytes.h"
#include "packet/segment_reader.h"
#include "port/vnet_offload.h"

namespace ferry::port {

namespace {

constexpr uint16_t kMaxBurst = 64;
constexpr uint32_t kMaxIovPerPacket = 64;  // header + segments

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

template <typename T>
bool set_opt(int fd, int level, int name, const T& value) {
  return ::setsockopt(fd, level, name, &value, sizeof(value)) == 0;
}

uint32_t load_status(const uint32_t* status) {
  return std::atomic_ref<const uint32_t>(*status).load(std::memory_order_acquire);
}

}  // namespace

std::unique_ptr<AfPacketPort> AfPacketPort::create(AfPacketPortConfig config, std::string* error) {
  if (config.pool == nullptr) {
    *error = config.name + ": no buffer pool";
    return nullptr;
  }
  unsigned ifindex = if_nametoindex(config.ifname.c_str());
  if (ifindex == 0) {
    *error = config.name + ": " + errno_text("interface '" + config.ifname + "'");
    return nullptr;
  }
  if (config.block_size < 4096 || (config.block_size & (config.block_size - 1)) != 0 ||
      config.block_count == 0) {
    *error = config.name + ": rx ring block size must be a power of two >= 4096";
    return nullptr;
  }
  std::unique_ptr<AfPacketPort> port(new AfPacketPort(std::move(config)));
  for (uint16_t q = 0; q < port->queues_.size(); q++) {
    if (!port->open_queue(port->queues_[q], static_cast<int>(ifindex), q, error)) {
      *error = port->name() + ": " + *error;
      return nullptr;
    }
  }
  port->log(port->name() + ": af_packet on " + port->config_.ifname + ", " +
            std::to_string(port->queues_.size()) + " queue(s), offloads " +
            (port->config_.offloads ? "on" : "off"));
  return port;
}

AfPacketPort::AfPacketPort(AfPacketPortConfig config)
    : Port(config.name), config_(std::move(config)) {
  queues_.resize(std::max<uint16_t>(1, config_.queues));
  caps_ = kCapRxCsum | kCapRxLarge;
  if (config_.offloads) {
    caps_ |= kCapTxCsum | kCapTxTso4 | kCapTxTso6 | kCapTxEcn | kCapTxUfo | kCapTxUso;
  }
  msgs_.resize(kMaxBurst);
  iovs_.resize(size_t{kMaxBurst} * kMaxIovPerPacket);
  hdrs_.resize(kMaxBurst);
  pending_.resize(kMaxBurst);
}

AfPacketPort::~AfPacketPort() {
  for (Queue& q : queues_) {
    if (q.ring != nullptr) ::munmap(q.ring, q.ring_len);
    if (q.fd >= 0) ::close(q.fd);
  }
}

void AfPacketPort::log(const std::string& line) const {
  if (config_.log) {
    config_.log(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

bool AfPacketPort::open_queue(Queue& q, int ifindex, uint16_t index, std::string* error) {
  // Protocol 0: nothing is queued to the socket before the ring exists and bind() runs.
  q.fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (q.fd < 0) {
    *error = errno_text("socket(AF_PACKET)");
    return false;
  }
  // The vnet header must be chosen before the ring is set up.
  if (!set_opt(q.fd, SOL_PACKET, PACKET_VNET_HDR, 1)) {
    *error = errno_text("PACKET_VNET_HDR");
    return false;
  }
  if (!set_opt(q.fd, SOL_PACKET, PACKET_VERSION, static_cast<int>(TPACKET_V3))) {
    *error = errno_text("PACKET_VERSION TPACKET_V3");
    return false;
  }
  struct tpacket_req3 req {};
  req.tp_block_size = config_.block_size;
  req.tp_block_nr = config_.block_count;
  req.tp_frame_size = 2048;  // only checked for consistency with TPACKET_V3
  req.tp_frame_nr = config_.block_size / 2048 * config_.block_count;
  req.tp_retire_blk_tov = 1;  // ms: hand a partly filled block over soon
  if (!set_opt(q.fd, SOL_PACKET, PACKET_RX_RING, req)) {
    *error = errno_text("PACKET_RX_RING");
    return false;
  }
  q.ring_len = size_t{config_.block_size} * config_.block_count;
  void* m = ::mmap(nullptr, q.ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, q.fd, 0);
  if (m == MAP_FAILED) {
    *error = errno_text("mmap rx ring");
    return false;
  }
  q.ring = static_cast<uint8_t*>(m);
  if (!set_opt(q.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)) {
    *error = errno_text("PACKET_IGNORE_OUTGOING");
    return false;
  }
  struct sockaddr_ll sll {};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  if (::bind(q.fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof(sll)) != 0) {
    *error = errno_text("bind to " + config_.ifname);
    return false;
  }
  struct packet_mreq mr {};
  mr.mr_ifindex = ifindex;
  mr.mr_type = PACKET_MR_PROMISC;
  if (!set_opt(q.fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mr)) {
    *error = errno_text("PACKET_ADD_MEMBERSHIP promisc");
    return false;
  }
  if (queues_.size() > 1) {
    // One group per interface and process.
    int group = static_cast<int>(
        (static_cast<unsigned>(ifindex) ^ static_cast<unsigned>(getpid())) & 0xffff);
    int arg = group | (PACKET_FANOUT_HASH << 16);
    if (!set_opt(q.fd, SOL_PACKET, PACKET_FANOUT, arg)) {
      *error = errno_text("PACKET_FANOUT queue " + std::to_string(index));
      return false;
    }
  }
  return true;
}

// Copies one frame of the ring into a pool packet; nullptr if it is dropped (counted).
Packet* AfPacketPort::take_frame(Queue& q, const uint8_t* hdr_base) {
  DirectionStats& d = q.stats.rx;
  const auto* h = reinterpret_cast<const struct tpacket3_hdr*>(hdr_base);
  uint32_t snap = h->tp_snaplen;
  if (snap < h->tp_len || snap < ETH_HLEN || h->tp_mac < kVnetHdrLegacyLen ||
      uint64_t{h->tp_mac} + snap > config_.block_size) {
    d.drop(DropReason::kTruncated);
    return nullptr;
  }
  const uint8_t* frame = hdr_base + h->tp_mac;
  Packet* p = packet_from_bytes(*config_.pool, {frame, snap});
  if (p == nullptr) {
    d.drop(DropReason::kNoPoolBuffers);
    return nullptr;
  }
  if (!vnet_to_packet(frame - kVnetHdrLegacyLen, snap, p)) {
    free_packet(p);
    d.drop(DropReason::kBadHeader);
    return nullptr;
  }
  if (h->tp_status & TP_STATUS_VLAN_VALID) {
    // The tag travelled as metadata: put it back after the MAC addresses.
    uint8_t* front = p->prepend(4);
    if (front == nullptr) {
      free_packet(p);
      d.drop(DropReason::kNoPoolBuffers);
      return nullptr;
    }
    std::memmove(front, front + 4, 12);
    uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : ETH_P_8021Q;
    uint16_t tag[2] = {htons(tpid), htons(static_cast<uint16_t>(h->hv1.tp_vlan_tci))};
    std::memcpy(front + 12, tag, 4);
    p->shift_offsets(4);
    counters_.rx_vlan_restored++;
  }
  if (p->is_gso()) counters_.rx_gso++;
  return p;
}

uint16_t AfPacketPort::rx_burst(uint16_t queue, Packet** pkts, uint16_t max) {
  if (queue >= queues_.size()) return 0;
  if (max > kMaxBurst) max = kMaxBurst;
  Queue& q = queues_[queue];
  uint16_t out = 0;
  uint64_t bytes = 0;
  while (out < max) {
    uint8_t* block = q.ring + size_t{q.block} * config_.block_size;
    auto* desc = reinterpret_cast<struct tpacket_block_desc*>(block);
    if ((load_status(&desc->hdr.bh1.block_status) & TP_STATUS_USER) == 0) break;
    uint32_t num = desc->hdr.bh1.num_pkts;
    if (q.pkt_in_block == 0) q.next_pkt = block + desc->hdr.bh1.offset_to_first_pkt;
    while (q.pkt_in_block < num && out < max) {
      // Offsets come from the kernel; still keep every read inside the block.
      if (q.next_pkt < block ||
          q.next_pkt + sizeof(struct tpacket3_hdr) > block + config_.block_size) {
        q.stats.rx.drop(DropReason::kQueueBroken, num - q.pkt_in_block);
        q.pkt_in_block = num;
        break;
      }
      auto* h = reinterpret_cast<struct tpacket3_hdr*>(q.next_pkt);
      uint32_t next = h->tp_next_offset;
      Packet* p = take_frame(q, q.next_pkt);
      if (p != nullptr) {
        pkts[out++] = p;
        bytes += p->pkt_len();
      }
      q.pkt_in_block++;
      q.next_pkt += next;
    }
    if (q.pkt_in_block < num) break;  // the burst is full; the block stays ours
    std::atomic_ref<uint32_t>(desc->hdr.bh1.block_status)
        .store(TP_STATUS_KERNEL, std::memory_order_release);
    q.block = (q.block + 1) % config_.block_count;
    q.pkt_in_block = 0;
  }
  DirectionStats& d = q.stats.rx;
  d.packets += out;
  d.bytes += bytes;
  d.note_burst(out);
  return out;
}

uint16_t AfPacketPort::tx_burst(uint16_t queue, Packet** pkts, uint16_t n) {
  if (n == 0) return 0;
  if (queue >= queues_.size()) {
    queues_[0].stats.tx.drop(DropReason::kBadQueue, n);
    free_packets(pkts, n);
    return 0;
  }
  Queue& q = queues_[queue];
  DirectionStats& d = q.stats.tx;
  uint16_t sent = 0;
  uint64_t bytes = 0;
  while (n > 0) {
    uint16_t chunk = std::min<uint16_t>(n, kMaxBurst);
    uint32_t count = 0;
    for (uint16_t i = 0; i < chunk; i++) {
      Packet* p = pkts[i];
      DropReason reason = DropReason::kOffloadUnsupported;
      if (!fit_tx_offloads(p, caps_, q.stats, &reason) || !packet_to_vnet(*p, &hdrs_[count])) {
        d.drop(reason);
        free_packet(p);
        continue;
      }
      struct iovec* iov = &iovs_[size_t{count} * kMaxIovPerPacket];
      iov[0] = {&hdrs_[count], kVnetHdrLegacyLen};
      uint32_t cnt = 1;
      uint32_t len = chain_length(*p);
      uint32_t left = len;
      for (Packet* s = p; s != nullptr && left > 0 && cnt < kMaxIovPerPacket; s = s->next()) {
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
      struct mmsghdr& m = msgs_[count];
      std::memset(&m, 0, sizeof(m));
      m.msg_hdr.msg_iov = iov;
      m.msg_hdr.msg_iovlen = cnt;
      pending_[count++] = p;
    }
    uint32_t start = 0;
    while (start < count) {
      int r = ::sendmmsg(q.fd, &msgs_[start], count - start, MSG_DONTWAIT);
      if (r > 0) {
        for (uint32_t k = start; k < start + static_cast<uint32_t>(r); k++) {
          Packet* p = pending_[k];
          if (p->is_gso()) counters_.tx_gso++;
          bytes += p->pkt_len();
          free_packet(p);
        }
        sent = static_cast<uint16_t>(sent + r);
        start += static_cast<uint32_t>(r);
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        d.drop(DropReason::kRingFull, count - start);
        free_packets(&pending_[start], count - start);
        start = count;
        break;
      }
      counters_.tx_errors++;
      d.drop(errno == EMSGSIZE ? DropReason::kTooBig
             : errno == EINVAL ? DropReason::kBadHeader
                               : DropReason::kNotReady);
      free_packet(pending_[start]);
      start++;
    }
    pkts += chunk;
    n = static_cast<uint16_t>(n - chunk);
  }
  d.packets += sent;
  d.bytes += bytes;
  d.note_burst(sent);
  return sent;
}

}  // namespace ferry::port
