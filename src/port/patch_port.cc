#include "port/patch_port.h"

#include "packet/buffer_pool.h"

namespace ferry::port {

std::pair<std::unique_ptr<PatchPort>, std::unique_ptr<PatchPort>> PatchPort::create_pair(
    const std::string& name_a, const std::string& name_b, uint16_t queues, uint32_t ring_size) {
  if (queues == 0) queues = 1;
  uint32_t size = 1;
  while (size < ring_size)
    size <<= 1;
  auto cable = std::make_shared<Cable>();
  for (uint16_t q = 0; q < queues; q++) {
    cable->a_to_b.push_back(std::make_unique<Ring>(size));
    cable->b_to_a.push_back(std::make_unique<Ring>(size));
  }
  std::unique_ptr<PatchPort> a(new PatchPort(name_a, cable, true, queues));
  std::unique_ptr<PatchPort> b(new PatchPort(name_b, cable, false, queues));
  return {std::move(a), std::move(b)};
}

PatchPort::PatchPort(std::string name, std::shared_ptr<Cable> cable, bool is_a, uint16_t queues)
    : Port(std::move(name)),
      cable_(std::move(cable)),
      in_(is_a ? &cable_->b_to_a : &cable_->a_to_b),
      out_(is_a ? &cable_->a_to_b : &cable_->b_to_a),
      stats_(queues) {}

PatchPort::~PatchPort() {
  // The last end to go frees what is still in flight.
  if (cable_.use_count() == 1) {
    for (auto* dir : {in_, out_}) {
      for (auto& ring : *dir) {
        uint32_t t = ring->tail.load(std::memory_order_relaxed);
        uint32_t h = ring->head.load(std::memory_order_relaxed);
        for (; t != h; t++)
          free_packet(ring->slots[t & ring->mask]);
      }
    }
  }
}

uint32_t PatchPort::capabilities() const {
  return kCapTxCsum | kCapTxTso4 | kCapTxTso6 | kCapTxUso | kCapTxUfo | kCapTxEcn | kCapRxCsum |
         kCapRxLarge;
}

uint16_t PatchPort::rx_burst(uint16_t queue, Packet** pkts, uint16_t max) {
  if (queue >= stats_.size()) return 0;
  Ring& r = *(*in_)[queue];
  uint32_t t = r.tail.load(std::memory_order_relaxed);
  uint32_t h = r.head.load(std::memory_order_acquire);
  uint32_t n = h - t;
  if (n > max) n = max;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < n; i++) {
    pkts[i] = r.slots[(t + i) & r.mask];
    bytes += pkts[i]->pkt_len();
  }
  r.tail.store(t + n, std::memory_order_release);
  DirectionStats& s = stats_[queue].rx;
  s.packets += n;
  s.bytes += bytes;
  s.note_burst(n);
  return static_cast<uint16_t>(n);
}

uint16_t PatchPort::tx_burst(uint16_t queue, Packet** pkts, uint16_t n) {
  if (queue >= stats_.size()) {
    free_packets(pkts, n);
    return 0;
  }
  Ring& r = *(*out_)[queue];
  DirectionStats& s = stats_[queue].tx;
  uint32_t h = r.head.load(std::memory_order_relaxed);
  uint32_t t = r.tail.load(std::memory_order_acquire);
  uint32_t room = static_cast<uint32_t>(r.slots.size()) - (h - t);
  uint32_t sent = n < room ? n : room;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < sent; i++) {
    r.slots[(h + i) & r.mask] = pkts[i];
    bytes += pkts[i]->pkt_len();
  }
  r.head.store(h + sent, std::memory_order_release);
  if (sent < n) {
    s.drop(DropReason::kRingFull, n - sent);
    free_packets(pkts + sent, n - sent);
  }
  s.packets += sent;
  s.bytes += bytes;
  s.note_burst(sent);
  return static_cast<uint16_t>(sent);
}

}  // namespace ferry::port
