#pragma once

// PcapPort: a port backed by pcap files, for tests and benchmarks with no kernel in the
// loop.
//
//   rx_burst  replays the frames of a capture (read whole at creation, so replay does no
//             file I/O): each frame is copied into a pool packet (chained when larger than
//             a buffer), with no offload state. With `loop`, the replay starts over at the
//             end of the file, forever (benchmarks); without, rx_burst returns 0 after the
//             last frame.
//   tx_burst  records every packet to a capture (a GSO packet as the one large frame it
//             is, as tcpdump shows it on an interface with TSO) and frees it.
//
// Either side may be absent (empty path): rx then returns nothing, tx drops with kNotReady.
// The port has one queue. As a recorder it takes every offload (capabilities() say so),
// so packets are recorded exactly as the switch hands them over.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "packet/buffer_pool.h"
#include "pcap/pcap_file.h"
#include "port/port.h"

namespace ferry::port {

struct PcapPortConfig {
  std::string name = "pcap0";
  std::string rx_path;         // capture to replay; empty: no rx
  std::string tx_path;         // capture to write; empty: no tx
  bool loop = false;           // replay rx_path forever
  BufferPool* pool = nullptr;  // needed for rx
};

class PcapPort final : public Port {
 public:
  // nullptr and *error if a file cannot be read or created.
  static std::unique_ptr<PcapPort> create(PcapPortConfig config, std::string* error);
  ~PcapPort() override;

  uint16_t num_queues() const override { return 1; }
  uint16_t max_queues() const override { return 1; }
  bool link_up() const override { return true; }
  uint32_t capabilities() const override;
  uint16_t rx_burst(uint16_t queue, Packet** pkts, uint16_t max) override;
  uint16_t tx_burst(uint16_t queue, Packet** pkts, uint16_t n) override;
  const QueueStats& queue_stats(uint16_t) const override { return stats_; }

  // Frames in the replayed file; times the replay went round (loop mode).
  size_t frame_count() const { return frames_.size(); }
  uint64_t loops() const { return loops_; }
  bool replay_done() const { return !config_.loop && next_ >= frames_.size(); }
  // Writes buffered records out; false if the file could not be written.
  bool flush();

 private:
  explicit PcapPort(PcapPortConfig config) : Port(config.name), config_(std::move(config)) {}

  PcapPortConfig config_;
  std::vector<pcap::Frame> frames_;
  size_t next_ = 0;
  uint64_t loops_ = 0;
  std::unique_ptr<pcap::PcapWriter> writer_;
  QueueStats stats_;
};

}  // namespace ferry::port
