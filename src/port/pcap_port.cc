#include "port/pcap_port.h"

#include <time.h>

#include "packet/packet_bytes.h"

namespace ferry::port {

namespace {

constexpr uint16_t kMaxBurst = 64;

uint64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

std::unique_ptr<PcapPort> PcapPort::create(PcapPortConfig config, std::string* error) {
  std::unique_ptr<PcapPort> port(new PcapPort(std::move(config)));
  const PcapPortConfig& c = port->config_;
  if (!c.rx_path.empty()) {
    if (c.pool == nullptr) {
      *error = c.name + ": no buffer pool for replay";
      return nullptr;
    }
    std::string e;
    if (!pcap::PcapReader::read_all(c.rx_path, &port->frames_, &e)) {
      *error = c.name + ": " + e;
      return nullptr;
    }
  }
  if (!c.tx_path.empty()) {
    std::string e;
    port->writer_ = pcap::PcapWriter::create(c.tx_path, &e);
    if (!port->writer_) {
      *error = c.name + ": " + e;
      return nullptr;
    }
  }
  return port;
}

PcapPort::~PcapPort() {
  flush();
}

bool PcapPort::flush() {
  return writer_ ? writer_->flush() : true;
}

uint32_t PcapPort::capabilities() const {
  return kCapTxCsum | kCapTxTso4 | kCapTxTso6 | kCapTxUso | kCapTxUfo | kCapTxEcn;
}

uint16_t PcapPort::rx_burst(uint16_t queue, Packet** pkts, uint16_t max) {
  if (queue != 0 || frames_.empty()) return 0;
  if (max > kMaxBurst) max = kMaxBurst;
  uint16_t out = 0;
  uint64_t bytes = 0;
  while (out < max) {
    if (next_ >= frames_.size()) {
      if (!config_.loop) break;
      next_ = 0;
      loops_++;
    }
    const pcap::Frame& f = frames_[next_];
    Packet* p = packet_from_bytes(*config_.pool, f.data);
    if (p == nullptr) {
      // Out of buffers: the frame is replayed at the next burst instead.
      stats_.rx.drop(DropReason::kNoPoolBuffers);
      break;
    }
    next_++;
    pkts[out++] = p;
    bytes += p->pkt_len();
  }
  stats_.rx.packets += out;
  stats_.rx.bytes += bytes;
  stats_.rx.note_burst(out);
  return out;
}

uint16_t PcapPort::tx_burst(uint16_t queue, Packet** pkts, uint16_t n) {
  if (n == 0) return 0;
  if (queue != 0 || !writer_) {
    stats_.tx.drop(queue != 0 ? DropReason::kBadQueue : DropReason::kNotReady, n);
    free_packets(pkts, n);
    return 0;
  }
  uint64_t ts = now_ns();
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; i++) {
    writer_->write(*pkts[i], ts);
    bytes += pkts[i]->pkt_len();
  }
  free_packets(pkts, n);
  stats_.tx.packets += n;
  stats_.tx.bytes += bytes;
  stats_.tx.note_burst(n);
  return n;
}

}  // namespace ferry::port
