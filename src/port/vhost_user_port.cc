#include "port/vhost_user_port.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#include "csum/offload_state.h"
#include "offload/rsc.h"
#include "packet/segment_reader.h"
#include "proto/parser.h"
#include "virtio/features.h"
#include "virtio/mergeable_rx.h"
#include "virtio/net_header.h"

namespace ferry::port {

using virtio::DescChain;
using virtio::feature_bit;
using virtio::has_feature;
using virtio::PackedVirtqueue;
using virtio::SplitVirtqueue;

namespace {

// Largest frame accepted from a guest: a 64 KiB GSO frame plus headers.
constexpr uint64_t kMaxFrameLen = 65536 + 256;
// Most chains one frame may take with MRG_RXBUF (a 64 KiB frame in ~1.5 KiB buffers).
constexpr uint16_t kMaxRxChains = 64;
constexpr uint16_t kMaxBurst = 64;
// Segments one GSO packet may become in software (64 KiB in 536-byte segments: 123).
constexpr uint32_t kMaxGsoSegments = 256;

// The guest-physical address of a front-end address, through the memory table.
uint64_t uva_to_gpa(const virtio::GuestMemory& mem, uint64_t uva) {
  for (size_t i = 0; i < mem.region_count(); i++) {
    const virtio::MemoryRegion& r = mem.region(i);
    if (uva >= r.user_addr && uva - r.user_addr < r.size) {
      return r.guest_phys_addr + (uva - r.user_addr);
    }
  }
  return 0;
}

// Writes a byte stream across the writable pieces of chains[0..count).
class RxWriter {
 public:
  RxWriter(const DescChain* chains, uint32_t* written) : chains_(chains), written_(written) {
    written_[0] = 0;
    piece_ = chains_[0].first_writable;
  }
  // Counts len bytes the caller wrote at the start of the first writable piece (which
  // holds at least len bytes).
  void skip(uint32_t len) {
    off_ = len;
    written_[0] = len;
    if (off_ == chains_[0].buffers[piece_].len) {
      piece_++;
      off_ = 0;
    }
  }
  void write(const uint8_t* src, uint32_t len) {
    while (len > 0) {
      const DescChain& c = chains_[chain_];
      if (piece_ >= c.count) {  // next chain
        chain_++;
        written_[chain_] = 0;
        piece_ = chains_[chain_].first_writable;
        off_ = 0;
        continue;
      }
      const virtio::VirtqBuffer& b = c.buffers[piece_];
      uint32_t n = std::min(len, b.len - off_);
      std::memcpy(b.addr + off_, src, n);
      src += n;
      len -= n;
      off_ += n;
      written_[chain_] += n;
      if (off_ == b.len) {
        piece_++;
        off_ = 0;
      }
    }
  }

 private:
  const DescChain* chains_;
  uint32_t* written_;
  uint32_t chain_ = 0;
  uint32_t piece_ = 0;
  uint32_t off_ = 0;
};

// Puts p's vlan_tci() back into the frame as an 802.1Q tag after the MAC addresses.
bool insert_vlan_tag(Packet* p) {
  if (p->data_len() < 12) return false;
  uint8_t* d = p->prepend(4);
  if (d == nullptr) return false;
  std::memmove(d, d + 4, 12);
  uint16_t tci = p->vlan_tci();
  d[12] = 0x81;
  d[13] = 0x00;
  d[14] = static_cast<uint8_t>(tci >> 8);
  d[15] = static_cast<uint8_t>(tci);
  p->shift_offsets(4);
  p->clear_vlan_tci();
  return true;
}

}  // namespace

uint64_t vhost_user_port_default_features() {
  uint64_t f = 0;
  for (unsigned bit : {VIRTIO_F_VERSION_1,      VIRTIO_NET_F_CSUM,
                       VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
                       VIRTIO_NET_F_MTU,        VIRTIO_NET_F_MAC,
                       VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
                       VIRTIO_NET_F_GUEST_ECN,  VIRTIO_NET_F_GUEST_UFO,
                       VIRTIO_NET_F_HOST_TSO4,  VIRTIO_NET_F_HOST_TSO6,
                       VIRTIO_NET_F_HOST_ECN,   VIRTIO_NET_F_HOST_UFO,
                       VIRTIO_NET_F_MRG_RXBUF,  VIRTIO_NET_F_STATUS,
                       VIRTIO_NET_F_CTRL_VQ,    VIRTIO_NET_F_CTRL_RX,
                       VIRTIO_NET_F_CTRL_VLAN,  VIRTIO_NET_F_GUEST_ANNOUNCE,
                       VIRTIO_NET_F_MQ,         VIRTIO_NET_F_CTRL_MAC_ADDR,
                       VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
                       VIRTIO_F_RING_PACKED,    VIRTIO_F_IN_ORDER,
                       VIRTIO_NET_F_RSC_EXT}) {
    f |= feature_bit(bit);
  }
  return f;
}

namespace {

vhost::BackendConfig backend_config(const VhostUserPortConfig& c) {
  vhost::BackendConfig b;
  b.name = c.name;
  b.device_features = c.features;
  b.max_queue_pairs = std::max<uint16_t>(1, c.queue_pairs);
  if (b.max_queue_pairs == 1) b.device_features &= ~feature_bit(VIRTIO_NET_F_MQ);
  b.control_queue = has_feature(c.features, VIRTIO_NET_F_CTRL_VQ);
  // virtio_net_config: mac, status (LINK_UP), max_virtqueue_pairs, mtu.
  b.config_space = {c.mac[0],
                    c.mac[1],
                    c.mac[2],
                    c.mac[3],
                    c.mac[4],
                    c.mac[5],
                    VIRTIO_NET_S_LINK_UP,
                    0,
                    static_cast<uint8_t>(b.max_queue_pairs),
                    static_cast<uint8_t>(b.max_queue_pairs >> 8),
                    static_cast<uint8_t>(c.mtu),
                    static_cast<uint8_t>(c.mtu >> 8)};
  b.log = c.log;
  return b;
}

}  // namespace

VhostUserPort::VhostUserPort(vhost::EventLoop& loop, VhostUserPortConfig config)
    : Port(config.name),
      config_(std::move(config)),
      loop_(loop),
      backend_(backend_config(config_), this),
      control_(0, 1) {
  config_.queue_pairs = std::max<uint16_t>(1, config_.queue_pairs);
  rings_.resize(backend_.num_rings());
  stats_.resize(config_.queue_pairs);
  chains_.resize(std::max(kMaxBurst, kMaxRxChains));
  written_.resize(kMaxRxChains + 1);
  ctrl_buf_.resize(NetControl::kMaxCommandBytes);
  segments_.resize(kMaxGsoSegments);
  if (config_.pool != nullptr) gso_ = std::make_unique<offload::GsoEngine>(*config_.pool);
}

VhostUserPort::~VhostUserPort() {
  stop();
}

bool VhostUserPort::start(std::string* error) {
  if (config_.pool == nullptr) {
    *error = name() + ": no buffer pool";
    return false;
  }
  if (config_.client) {
    client_ = std::make_unique<vhost::VhostUserClient>(loop_, config_.socket_path, backend_);
    client_->start();
    return true;
  }
  server_ = std::make_unique<vhost::VhostUserServer>(loop_, config_.socket_path, backend_);
  return server_->start(error);
}

void VhostUserPort::stop() {
  if (server_) server_->stop();
  if (client_) client_->stop();
  server_.reset();
  client_.reset();
  if (backend_.connected()) backend_.detach();
  for (uint32_t i = 0; i < rings_.size(); i++)
    detach_ring(i);
  if (started_) filter_generation_++;
  started_ = false;
}

void VhostUserPort::log(const std::string& line) const {
  if (config_.log) {
    config_.log(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

uint16_t VhostUserPort::num_queues() const {
  if (!started_) return 0;
  uint16_t n = 0;
  for (uint16_t q = 0; q < stats_.size(); q++) {
    if (rings_[2 * q].active && rings_[2 * q + 1].active) n = static_cast<uint16_t>(q + 1);
  }
  return n;
}

// --- device life cycle --------------------------------------------------------------------

void VhostUserPort::on_device_started() {
  uint64_t f = backend_.features();
  packed_ = has_feature(f, VIRTIO_F_RING_PACKED);
  mergeable_ = has_feature(f, VIRTIO_NET_F_MRG_RXBUF);
  version_1_ = has_feature(f, VIRTIO_F_VERSION_1);
  hdr_len_ = static_cast<uint32_t>(virtio::net_header_size(f));
  tx_header_used_ =
      (f & (feature_bit(VIRTIO_NET_F_CSUM) | feature_bit(VIRTIO_NET_F_HOST_TSO4) |
            feature_bit(VIRTIO_NET_F_HOST_TSO6) | feature_bit(VIRTIO_NET_F_HOST_ECN) |
            feature_bit(VIRTIO_NET_F_HOST_UFO) | feature_bit(VIRTIO_NET_F_HOST_USO))) != 0;
  ctrl_enabled_ = has_feature(f, VIRTIO_NET_F_CTRL_VQ);
  // Spec 5.1.2: the control queue follows the last data queue when MQ is negotiated,
  // else it is queue 2.
  ctrl_index_ = has_feature(f, VIRTIO_NET_F_MQ) ? 2u * config_.queue_pairs : 2u;
  if (ctrl_enabled_ && ctrl_index_ >= rings_.size()) ctrl_enabled_ = false;
  control_ = NetControl(f, has_feature(f, VIRTIO_NET_F_MQ) ? config_.queue_pairs : 1);
  guest_offloads_ = f;
  compute_offloads();
  started_ = true;
  starts_++;
  filter_generation_++;  // a fresh NetControl: the device's default filter
  for (uint32_t i = 0; i < rings_.size(); i++) {
    if (backend_.ring(i).enabled && backend_.ring(i).ready()) attach_ring(i);
  }
  log(name() + ": device started, features " + virtio::features_to_string(f) +
      (packed_ ? " (packed)" : " (split)"));
}

void VhostUserPort::on_features_set(uint64_t /*features*/) {
  for (Ring& r : rings_)
    r.base_saved = false;
}

void VhostUserPort::on_device_stopped() {
  for (uint32_t i = 0; i < rings_.size(); i++)
    detach_ring(i);
  if (started_) log(name() + ": device stopped");
  if (started_) filter_generation_++;
  started_ = false;
}

void VhostUserPort::on_ring_enabled(uint32_t ring, bool enabled) {
  if (!started_ || ring >= rings_.size()) return;
  if (enabled) {
    if (!rings_[ring].active && backend_.ring(ring).ready()) attach_ring(ring);
  } else {
    detach_ring(ring);
  }
}

void VhostUserPort::on_ring_fds_changed(uint32_t ring) {
  if (ring < rings_.size() && rings_[ring].active) {
    const vhost::VringConfig& rc = backend_.ring(ring);
    rings_[ring].call_fd = rc.call.valid() ? rc.call.get() : -1;
  }
}

uint32_t VhostUserPort::on_ring_stopped(uint32_t ring, uint32_t base) {
  if (ring >= rings_.size()) return base;
  Ring& r = rings_[ring];
  if (r.active) detach_ring(ring);
  if (r.base_saved) {
    r.base_saved = false;
    return r.saved_base;
  }
  return base;
}

bool VhostUserPort::attach_ring(uint32_t index) {
  Ring& r = rings_[index];
  const vhost::VringConfig& rc = backend_.ring(index);
  // The queues only read the memory table; they write the dirty log through it.
  auto* mem = const_cast<virtio::GuestMemory*>(&backend_.memory());
  uint64_t f = backend_.features();
  // IN_ORDER lets one used entry complete a whole guest tx burst (odd rings; the driver
  // ignores their used lengths), as spec 2.8.9 allows and DPDK's vhost does: the driver
  // then reads one used descriptor line a burst instead of one every four chains. Packed
  // rings only: DPDK 22.11's in-order split driver reclaims its tx ring one chain per used
  // entry and slows to a crawl (measured: 26 kpps instead of millions).
  bool in_order = packed_ && has_feature(f, VIRTIO_F_IN_ORDER) && index % 2 == 1;
  std::string error;
  // Restarted without GET_VRING_BASE / SET_VRING_BASE (e.g. a new memory table): resume
  // where the ring stood, not at the base the front-end set before the traffic.
  // A SET_VRING_BASE since then wins.
  uint32_t ring_base = r.base_saved && rc.base == r.attached_base ? r.saved_base : rc.base;
  r.base_saved = false;
  r.attached_base = rc.base;
  if (packed_) {
    virtio::PackedVirtqueueConfig cfg;
    if (!PackedVirtqueue::map_ring(*mem, virtio::RingAddressSpace::kFrontendVirtual, rc.num,
                                   rc.addr.desc_user_addr, rc.addr.avail_user_addr,
                                   rc.addr.used_user_addr, &cfg, &error)) {
      log(name() + ": ring " + std::to_string(index) + " not attached: " + error);
      return false;
    }
    cfg.desc_gpa = uva_to_gpa(*mem, rc.addr.desc_user_addr);
    PackedVirtqueue::apply_vring_base(ring_base, &cfg);
    cfg.indirect = has_feature(f, VIRTIO_RING_F_INDIRECT_DESC);
    cfg.event_idx = has_feature(f, VIRTIO_RING_F_EVENT_IDX);
    cfg.in_order_batching = in_order;
    r.packed = std::make_unique<PackedVirtqueue>(mem, cfg);
    r.packed->set_kick_enabled(false);
    if (index == 0 && backend_.inflight_queue_size() != 0) {
      log(name() + ": inflight area not used: packed rings are not tracked");
    }
  } else {
    virtio::SplitVirtqueueConfig cfg;
    if (!SplitVirtqueue::map_ring(*mem, virtio::RingAddressSpace::kFrontendVirtual, rc.num,
                                  rc.addr.desc_user_addr, rc.addr.avail_user_addr,
                                  rc.addr.used_user_addr, &cfg, &error)) {
      log(name() + ": ring " + std::to_string(index) + " not attached: " + error);
      return false;
    }
    cfg.used_gpa = rc.logging() ? rc.addr.log_guest_addr : uva_to_gpa(*mem, rc.addr.used_user_addr);
    uint16_t base = static_cast<uint16_t>(ring_base);
    uint16_t used_idx;
    std::memcpy(&used_idx, cfg.used + 2, 2);
    used_idx = le16toh(used_idx);
    if (used_idx != base) {
      // The front-end lost track of inflight chains (back-end restart without inflight
      // tracking): resume from what the driver has seen used, as DPDK does.
      log(name() + ": ring " + std::to_string(index) + " base " + std::to_string(base) +
          " differs from used idx " + std::to_string(used_idx) + ", resuming from used idx");
      base = used_idx;
    }
    cfg.last_avail_idx = base;
    cfg.used_idx = base;
    cfg.indirect = has_feature(f, VIRTIO_RING_F_INDIRECT_DESC);
    cfg.event_idx = has_feature(f, VIRTIO_RING_F_EVENT_IDX);
    cfg.in_order_batching = in_order;
    cfg.inflight = backend_.inflight_queue(index);
    cfg.inflight_capacity = backend_.inflight_queue_size();
    r.split = std::make_unique<SplitVirtqueue>(mem, cfg);
    r.split->set_kick_enabled(false);
    if (cfg.inflight != nullptr) note_inflight(*r.split, index);
  }
  r.call_fd = rc.call.valid() ? rc.call.get() : -1;
  r.active = true;
  r.broken_logged = false;
  return true;
}

void VhostUserPort::note_inflight(const SplitVirtqueue& q, uint32_t index) {
  std::string ring = name() + ": ring " + std::to_string(index);
  virtio::InflightError e = q.inflight_error();
  if (e != virtio::InflightError::kNone) {
    inflight_rejects_[static_cast<unsigned>(e)]++;
    log(ring + " inflight area rejected (" + virtio::to_string(e) +
        "), tracking starts afresh at avail idx " + std::to_string(q.last_avail_idx()));
    return;
  }
  if (q.resubmit_total() != 0 || q.inflight_batch_cleared() != 0) {
    inflight_resubmitted_ += q.resubmit_total();
    log(ring + " resumed from the inflight area: " + std::to_string(q.resubmit_total()) +
        " chains resubmitted, " + std::to_string(q.inflight_batch_cleared()) +
        " completed in the last batch, avail idx " + std::to_string(q.last_avail_idx()));
  }
}

void VhostUserPort::detach_ring(uint32_t index) {
  Ring& r = rings_[index];
  if (r.split) {
    r.split->flush();
    r.saved_base = r.split->last_avail_idx();
    r.base_saved = true;
  } else if (r.packed) {
    r.packed->flush();
    r.saved_base = r.packed->vring_base();
    r.base_saved = true;
  }
  r.split.reset();
  r.packed.reset();
  r.call_fd = -1;
  r.active = false;
}

void VhostUserPort::compute_offloads() {
  uint64_t f = backend_.features();
  uint64_t g = guest_offloads_;
  uint32_t c = 0;
  if (has_feature(g, VIRTIO_NET_F_GUEST_CSUM)) c |= kCapTxCsum;
  if (has_feature(g, VIRTIO_NET_F_GUEST_TSO4)) c |= kCapTxTso4;
  if (has_feature(g, VIRTIO_NET_F_GUEST_TSO6)) c |= kCapTxTso6;
  if (has_feature(g, VIRTIO_NET_F_GUEST_USO4) && has_feature(g, VIRTIO_NET_F_GUEST_USO6)) {
    c |= kCapTxUso;
  }
  if (has_feature(g, VIRTIO_NET_F_GUEST_UFO)) c |= kCapTxUfo;
  if (has_feature(g, VIRTIO_NET_F_GUEST_ECN)) c |= kCapTxEcn;
  // RSC_EXT: negotiated, and not switched off with GUEST_OFFLOADS_SET.
  if (has_feature(f, VIRTIO_NET_F_RSC_EXT) && has_feature(g, VIRTIO_NET_F_RSC_EXT)) {
    c |= kCapTxRscInfo;
  }
  if (has_feature(f, VIRTIO_NET_F_CSUM)) c |= kCapRxCsum;
  if (has_feature(f, VIRTIO_NET_F_HOST_TSO4) || has_feature(f, VIRTIO_NET_F_HOST_TSO6) ||
      has_feature(f, VIRTIO_NET_F_HOST_UFO) || has_feature(f, VIRTIO_NET_F_HOST_USO)) {
    c |= kCapRxLarge;
  }
  caps_ = c;
}

bool VhostUserPort::guest_takes_gso(uint16_t gso_type) const {
  uint16_t base = gso_type & (kGsoTcpv4 | kGsoTcpv6 | kGsoUdp | kGsoUdpL4);
  switch (base) {
    case kGsoTcpv4:
      return (caps_ & kCapTxTso4) != 0;
    case kGsoTcpv6:
      return (caps_ & kCapTxTso6) != 0;
    case kGsoUdp:
      return (caps_ & kCapTxUfo) != 0;
    case kGsoUdpL4:
      return (caps_ & kCapTxUso) != 0;
    default:
      return false;
  }
}

// --- datapath -----------------------------------------------------------------------------

template <typename Queue>
void VhostUserPort::check_broken(Queue& q, Ring& r, uint32_t index) {
  if (q.broken() && !r.broken_logged) {
    r.broken_logged = true;
    broken_rings_++;
    log(name() + ": ring " + std::to_string(index) +
        " broken: " + virtio::to_string(q.broken_reason()) + " (" + q.broken_detail() + ")");
  }
}

template <typename Queue>
void VhostUserPort::notify(Queue& q, Ring& r, QueueStats& s, bool published) {
  if (q.needs_interrupt()) {
    if (r.call_fd >= 0) {
      uint64_t one = 1;
      ssize_t rc = ::write(r.call_fd, &one, sizeof(one));
      (void)rc;  // EAGAIN: the counter is saturated, the guest will look anyway
    }
    s.interrupts++;
  } else if (published) {
    s.interrupts_suppressed++;
  }
}

Packet* VhostUserPort::copy_frame(const DescChain& c, uint32_t offset, uint32_t len) {
  BufferPool& pool = *config_.pool;
  Packet* head = pool.alloc();
  if (head == nullptr) return nullptr;
  uint32_t n = std::min(len, head->tailroom());
  if (c.count > 0 && c.buffers[0].len >= uint64_t{offset} + n) {
    std::memcpy(head->append(n), c.buffers[0].addr + offset, n);  // header and frame in one piece
  } else {
    virtio::copy_from_chain(c, offset, head->append(n), n);
  }
  uint32_t done = n;
  while (done < len) {
    Packet* seg = pool.alloc();
    if (seg == nullptr) {
      free_packet(head);
      return nullptr;
    }
    // Further segments use their whole buffer.
    seg->move_data(-static_cast<int32_t>(seg->headroom()));
    n = std::min(len - done, seg->tailroom());
    virtio::copy_from_chain(c, offset + done, seg->append(n), n);
    head->append_segment(seg);
    done += n;
  }
  return head;
}

bool VhostUserPort::apply_tx_header(const DescChain& c, uint32_t frame_len, Packet* p) const {
  virtio_net_hdr_v1 h{};
  if (hdr_len_ == sizeof(h) && c.buffers[0].len >= sizeof(h)) {
    std::memcpy(&h, c.buffers[0].addr, sizeof(h));
  } else {
    virtio::copy_from_chain(c, 0, &h, hdr_len_);
  }
  return virtio::header_to_packet(h, frame_len, p) == virtio::NetHdrError::kNone;
}

template <typename Queue>
uint16_t VhostUserPort::receive(Queue& q, Ring& r, uint32_t index, QueueStats& s, Packet** pkts,
                                uint16_t max) {
  if (max > kMaxBurst) max = kMaxBurst;
  DescChain* chains = chains_.data();
  // The frames were just written by the driver on another core: their lines are loaded
  // as the chains are popped, so the misses overlap instead of stalling each copy in turn.
  const bool header_used = tx_header_used_;
  uint16_t n = q.pop_burst(chains, max, header_used ? 0 : hdr_len_);
  if (n == 0) {
    check_broken(q, r, index);
    return 0;
  }
  DirectionStats& d = s.rx;
  uint16_t out = 0;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; i++) {
    const DescChain& c = chains[i];
    if (c.readable_len < hdr_len_ || c.readable_len - hdr_len_ == 0) {
      d.drop(DropReason::kTruncated);
    } else if (c.readable_len - hdr_len_ > kMaxFrameLen) {
      d.drop(DropReason::kTooBig);
    } else {
      uint32_t frame_len = static_cast<uint32_t>(c.readable_len - hdr_len_);
      Packet* p = copy_frame(c, hdr_len_, frame_len);
      if (p == nullptr) {
        d.drop(DropReason::kNoPoolBuffers);
      } else if (header_used && !apply_tx_header(c, frame_len, p)) {
        free_packet(p);
        d.drop(DropReason::kBadHeader);
      } else {
        pkts[out++] = p;
        bytes += frame_len;
      }
    }
    q.add_used(c, 0);
  }
  q.flush();
  notify(q, r, s, true);
  check_broken(q, r, index);
  d.packets += out;
  d.bytes += bytes;
  d.note_burst(out);
  return out;
}

template <typename Queue>
VhostUserPort::Delivery VhostUserPort::deliver(Queue& q, virtio::RxChainReserve<Queue>& reserve,
                                               QueueStats& s, Packet* p, uint64_t* bytes) {
  DirectionStats& d = s.tx;
  if (p->csum_state() == CsumState::kPartial && (caps_ & kCapTxCsum) == 0) {
    if (csum::finish_partial(*p) != csum::CsumError::kOk) {
      d.drop(DropReason::kChecksumFailed);
      free_packet(p);
      return Delivery::kDropped;
    }
    s.csum_filled++;
  }
  if (virtio::check_header_representable(*p) != virtio::NetHdrError::kNone) {
    d.drop(DropReason::kOffloadUnsupported);
    free_packet(p);
    return Delivery::kDropped;
  }
  uint32_t len = chain_length(*p);
  DescChain* chains = nullptr;
  virtio::RxGather g = reserve.gather(uint64_t{hdr_len_} + len, kMaxRxChains, mergeable_, &chains);
  if (g.status == virtio::RxGatherStatus::kNoBuffers ||
      g.status == virtio::RxGatherStatus::kBroken) {
    return Delivery::kStop;  // p is still the caller's
  }
  if (g.status == virtio::RxGatherStatus::kTooSmall) {
    q.add_used(chains[0], 0);
    d.drop(DropReason::kTooBig);
    free_packet(p);
    return Delivery::kDropped;
  }
  RxWriter w(chains, written_.data());
  const virtio::VirtqBuffer& first = chains[0].buffers[chains[0].first_writable];
  virtio_net_hdr_v1 h;
  virtio::packet_to_header(*p, g.count, &h);
  if (hdr_len_ == sizeof(virtio_net_hdr_v1) && first.len >= hdr_len_) {
    virtio::store_header(h, reinterpret_cast<virtio_net_hdr_v1*>(first.addr));
    if (g.count == 1 && p->next() == nullptr && first.len - hdr_len_ >= len) {
      // The common case: one segment into one buffer.
      std::memcpy(first.addr + hdr_len_, p->data(), len);
      q.add_used(chains[0], hdr_len_ + len);
      *bytes += len;
      free_packet(p);
      return Delivery::kSent;
    }
    w.skip(hdr_len_);
  } else {
    w.write(reinterpret_cast<const uint8_t*>(&h), hdr_len_);
  }
  for (const Packet* seg = p; seg != nullptr && len > 0; seg = seg->next()) {
    uint32_t m = std::min(seg->data_len(), len);
    w.write(seg->data(), m);
    len -= m;
  }
  for (uint16_t k = 0; k < g.count; k++)
    q.add_used(chains[k], written_[k]);
  *bytes += p->pkt_len();
  free_packet(p);
  return Delivery::kSent;
}

template <typename Queue>
uint16_t VhostUserPort::transmit(Queue& q, Ring& r, uint32_t index, QueueStats& s, Packet** pkts,
                                 uint16_t n) {
  DirectionStats& d = s.tx;
  uint16_t sent = 0;
  uint64_t bytes = 0;
  bool published = false;
  bool stop = false;
  virtio::RxChainReserve<Queue> reserve(q, chains_.data());
  reserve.fill(n, hdr_len_);
  uint16_t i = 0;
  for (; i < n && !stop; i++) {
    Packet* p = pkts[i];
    // virtio-net has no VLAN offload: a stripped tag goes back into the frame.
    if (p->has_vlan_tci() && !insert_vlan_tag(p)) {
      d.drop(DropReason::kTooBig);
      free_packet(p);
      continue;
    }
    // RSC info only for a guest that negotiated RSC_EXT and takes the frame whole.
    if (p->has_rsc_info() &&
        ((caps_ & kCapTxRscInfo) == 0 || (p->is_gso() && !guest_takes_gso(p->gso_type())))) {
      if (proto::parse_packet(*p) != proto::ParseError::kOk ||
          offload::rsc_strip_info(*p) != csum::CsumError::kOk) {
        d.drop(DropReason::kOffloadUnsupported);
        free_packet(p);
        continue;
      }
    }
    if (p->is_gso()) {
      if (!guest_takes_gso(p->gso_type())) {
        // Segment in software: checksums left partial for a guest that finishes them.
        uint32_t nseg = 0;
        gso_->set_csum_mode((caps_ & kCapTxCsum) ? offload::GsoCsumMode::kPartial
                                                 : offload::GsoCsumMode::kFill);
        if (proto::parse_packet(*p) != proto::ParseError::kOk ||
            gso_->segment(*p, segments_.data(), kMaxGsoSegments, &nseg) != offload::GsoError::kOk) {
          d.drop(DropReason::kOffloadUnsupported);
          free_packet(p);
          continue;
        }
        free_packet(p);
        uint32_t k = 0;
        for (; k < nseg; k++) {
          Delivery res = deliver(q, reserve, s, segments_[k], &bytes);
          if (res == Delivery::kStop) break;
          published = true;
          if (res == Delivery::kSent) sent++;
        }
        if (k < nseg) {
          d.drop(q.broken() ? DropReason::kQueueBroken : DropReason::kRingFull, nseg - k);
          free_packets(segments_.data() + k, nseg - k);
          stop = true;
        }
        continue;
      }
      if ((p->gso_type() & kGsoTcpEcn) && (caps_ & kCapTxEcn) == 0) {
        p->set_gso(p->gso_type() & ~kGsoTcpEcn, p->gso_size());
      }
    }
    Delivery res = deliver(q, reserve, s, p, &bytes);
    if (res == Delivery::kStop) break;
    published = true;
    if (res == Delivery::kSent) sent++;
  }
  if (i < n) {
    // The ring ran out of buffers (or broke): drop the rest of the burst.
    d.drop(q.broken() ? DropReason::kQueueBroken : DropReason::kRingFull, n - i);
    free_packets(pkts + i, n - i);
  }
  reserve.release();
  if (published) {
    q.flush();
    notify(q, r, s, true);
  }
  check_broken(q, r, index);
  d.packets += sent;
  d.bytes += bytes;
  d.note_burst(sent);
  return sent;
}

template <typename Queue>
void VhostUserPort::service_control(Queue& q, Ring& r) {
  DescChain& c = chains_[0];
  bool published = false;
  const uint64_t filter_changes = control_.state().filter_changes;
  while (q.pop(&c) == virtio::PopStatus::kOk) {
    uint8_t ack = VIRTIO_NET_ERR;
    if (c.readable_len <= ctrl_buf_.size()) {
      size_t len = virtio::copy_from_chain(c, 0, ctrl_buf_.data(), c.readable_len);
      ack = control_.execute(ctrl_buf_.data(), len);
    } else {
      control_.state().commands++;
      control_.state().rejected++;
    }
    uint32_t written = 0;
    if (c.writable_len >= 1) written = static_cast<uint32_t>(virtio::copy_to_chain(c, 0, &ack, 1));
    q.add_used(c, written);
    published = true;
  }
  if (published) {
    q.flush();
    notify(q, r, stats_[0], true);
    if (control_.state().filter_changes != filter_changes) filter_generation_++;
    // Offloads switched by the guest (GUEST_OFFLOADS_SET) take effect now.
    if (control_.state().guest_offloads_set) {
      uint64_t keep =
          ~(feature_bit(VIRTIO_NET_F_GUEST_CSUM) | feature_bit(VIRTIO_NET_F_GUEST_TSO4) |
            feature_bit(VIRTIO_NET_F_GUEST_TSO6) | feature_bit(VIRTIO_NET_F_GUEST_ECN) |
            feature_bit(VIRTIO_NET_F_GUEST_UFO) | feature_bit(VIRTIO_NET_F_GUEST_USO4) |
            feature_bit(VIRTIO_NET_F_GUEST_USO6) | feature_bit(VIRTIO_NET_F_RSC_EXT));
      guest_offloads_ = (backend_.features() & keep) | control_.state().guest_offloads;
      compute_offloads();
    }
  }
  check_broken(q, r, ctrl_index_);
}

void VhostUserPort::rx_filter(ReceiveFilter* out) const {
  *out = ReceiveFilter{};  // stopped, or no control queue: the device default (promiscuous)
  if (!started_ || !ctrl_enabled_) return;
  const NetControlState& s = control_.state();
  *out = s.filter;
  if (!s.mac_set) out->mac = config_.mac;
  // With CTRL_VLAN the filter starts empty (tagged frames refused until VLAN_ADD); without
  // it every VLAN passes (QEMU's virtio_net_set_features).
  out->vlan_filter = has_feature(backend_.features(), VIRTIO_NET_F_CTRL_VLAN);
}

uint16_t VhostUserPort::rx_burst(uint16_t queue, Packet** pkts, uint16_t max) {
  if (!started_ || queue >= stats_.size()) return 0;
  if (queue == 0 && ctrl_enabled_) {
    Ring& cr = rings_[ctrl_index_];
    if (cr.active) {
      if (packed_) {
        service_control(*cr.packed, cr);
      } else {
        service_control(*cr.split, cr);
      }
    }
  }
  uint32_t index = 2u * queue + 1;
  Ring& r = rings_[index];
  if (!r.active) return 0;
  if (packed_) return receive(*r.packed, r, index, stats_[queue], pkts, max);
  return receive(*r.split, r, index, stats_[queue], pkts, max);
}

uint16_t VhostUserPort::tx_burst(uint16_t queue, Packet** pkts, uint16_t n) {
  if (n == 0) return 0;
  if (queue >= stats_.size()) {
    stats_[0].tx.drop(DropReason::kBadQueue, n);
    free_packets(pkts, n);
    return 0;
  }
  uint32_t index = 2u * queue;
  Ring& r = rings_[index];
  if (!started_ || !r.active) {
    stats_[queue].tx.drop(started_ ? DropReason::kQueueDisabled : DropReason::kNotReady, n);
    free_packets(pkts, n);
    return 0;
  }
  if (packed_) return transmit(*r.packed, r, index, stats_[queue], pkts, n);
  return transmit(*r.split, r, index, stats_[queue], pkts, n);
}

}  // namespace ferry::port
