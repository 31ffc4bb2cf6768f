#pragma once

// AfXdpPort: an interface queue through an AF_XDP socket (libxdp/libbpf), as a Port.
//
// Each port queue q is one XDP socket on the interface's rx/tx queue q with a UMEM of its
// own (4 KiB frames): half the frames feed the fill ring, the other half are the tx pool.
//
//   rx_burst(q)  rx ring descriptors -> frames copied into pool packets; the UMEM frames go
//                straight back to the fill ring.
//   tx_burst(q)  packets copied into free UMEM frames, tx ring descriptors, one wakeup
//                (sendto) per burst; completed frames are reclaimed at the next burst.
//
// AF_XDP carries no offload metadata: capabilities() are 0, so the switch finishes
// checksums and segments GSO packets before tx (a GSO packet reaching tx_burst is dropped
// as kOffloadUnsupported), and received frames have no checksum state (a veth peer that
// leaves checksums to the hardware must have tx checksumming off: `ethtool -K DEV tx off`).
// Frames larger than a UMEM frame are dropped (kTooBig).
//
// Set-up: the socket asks for zero-copy first and falls back to copy mode when the driver
// refuses (veth: EOPNOTSUPP); zerocopy() and the log line say which. libxdp loads its
// default redirect program; where its multi-program dispatcher cannot load (no bpffs at
// /sys/fs/bpf) libxdp falls back to a single program by itself. A queue still held by a
// socket that was just closed gives EBUSY for a moment: the bind is retried for up to
// `busy_retry_ms`. If AF_XDP cannot be set up at all (no XDP support, no CAP_NET_ADMIN /
// CAP_BPF, Ferry built without libxdp) create() fails with the reason, and AfPacketPort
// is the fallback.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "packet/buffer_pool.h"
#include "port/port.h"

namespace ferry::port {

enum class XdpAttachMode : uint8_t { kAuto, kNative, kSkb };

struct AfXdpPortConfig {
  std::string name = "xdp0";
  std::string ifname;
  uint16_t queues = 1;       // interface queues 0 .. queues-1
  bool try_zerocopy = true;  // ask for zero-copy first
  XdpAttachMode mode = XdpAttachMode::kAuto;
  uint32_t frames = 4096;         // UMEM frames per queue (half fill, half tx)
  uint32_t ring_size = 2048;      // rx, tx, fill and completion ring entries
  uint32_t busy_retry_ms = 3000;  // how long to retry a bind that fails with EBUSY
  BufferPool* pool = nullptr;
  std::function<void(std::string_view)> log;  // default: stderr
};

struct AfXdpCounters {
  uint64_t zerocopy_fallbacks = 0;  // queues that asked for zero-copy and run in copy mode
  uint64_t busy_retries = 0;        // binds retried after EBUSY
  uint64_t tx_wakeups = 0;          // sendto() kicks
  uint64_t fill_wakeups = 0;        // recvfrom() kicks for an empty fill ring
};

// The kernel's XDP_STATISTICS of one socket.
struct XdpSocketStats {
  uint64_t rx_dropped = 0;
  uint64_t rx_invalid_descs = 0;
  uint64_t tx_invalid_descs = 0;
  uint64_t rx_ring_full = 0;
  uint64_t rx_fill_ring_empty_descs = 0;
  uint64_t tx_ring_empty_descs = 0;
};

class AfXdpPort final : public Port {
 public:
  // nullptr and *error (one line, with libxdp's own messages) when AF_XDP cannot be used.
  static std::unique_ptr<AfXdpPort> create(AfXdpPortConfig config, std::string* error);
  ~AfXdpPort() override;

  uint16_t num_queues() const override;
  uint16_t max_queues() const override { return num_queues(); }
  bool link_up() const override { return true; }
  uint32_t capabilities() const override { return 0; }
  uint16_t rx_burst(uint16_t queue, Packet** pkts, uint16_t max) override;
  uint16_t tx_burst(uint16_t queue, Packet** pkts, uint16_t n) override;
  const QueueStats& queue_stats(uint16_t queue) const override;

  bool zerocopy() const { return zerocopy_; }
  int fd(uint16_t queue) const;
  const AfXdpCounters& counters() const { return counters_; }
  XdpSocketStats socket_stats(uint16_t queue) const;

  struct Queue;  // one socket with its UMEM and rings

 private:
  explicit AfXdpPort(AfXdpPortConfig config);
  void log(const std::string& line) const;

  AfXdpPortConfig config_;
  std::vector<std::unique_ptr<Queue>> queues_;
  bool zerocopy_ = false;
  AfXdpCounters counters_;
};

}  // namespace ferry::port
