#pragma once

// TapPort: a Linux TAP interface (/dev/net/tun) as a Port.
//
// The interface is created with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (+ IFF_MULTI_QUEUE and
// one file descriptor per queue when queues > 1) and a 12-byte virtio-net v1 header
// (TUNSETVNETHDRSZ) in front of every frame in both directions:
//
//   rx_burst(q)  read(): the kernel's frames (the interface's transmit side) with their
//                header -> the packet's offload state. With offloads on, TCP from the
//                kernel arrives as GSO frames up to 64 KiB with a partial checksum; the
//                frame is read straight into a head buffer plus pre-allocated spare
//                segments (readv), so a small frame costs one buffer and a 64 KiB frame a
//                chain.
//   tx_burst(q)  writev(): header + the segments of the packet. The kernel takes partial
//                checksums and GSO from a TAP regardless of TUNSETOFFLOAD, so with offloads
//                on the packet's offload state goes through whole.
//
// Offload negotiation: TUNSETOFFLOAD says what the *kernel* may hand to Ferry (what Ferry
// receives). With offloads on, the port asks for CSUM | TSO4 | TSO6 | TSO_ECN | UFO |
// USO4 | USO6 and drops what the kernel refuses (USO4/USO6 only together; UFO on older
// kernels); capabilities() follows what was accepted. With offloads off the kernel sends
// MTU-sized frames with finished checksums and the port takes nothing but such frames
// (the switch finishes checksums and segments before tx).
//
// The interface is created in the caller's network namespace and may be moved to another
// one afterwards (`ip link set NAME netns NS`); the file descriptors keep working.
// File descriptors are non-blocking; fd(q) is there for a worker that sleeps in poll().

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "packet/buffer_pool.h"
#include "port/port.h"

namespace ferry::port {

struct TapPortConfig {
  std::string name = "tap0";                  // the port's name in Ferry
  std::string ifname;                         // the interface name; empty: the kernel picks "tap%d"
  uint16_t queues = 1;                        // > 1: IFF_MULTI_QUEUE, one fd per queue
  bool offloads = true;                       // negotiate checksum/GSO offloads with the kernel
  BufferPool* pool = nullptr;                 // packets received from the kernel come from here
  std::function<void(std::string_view)> log;  // default: stderr
};

// Counters beyond the port interface's, per port.
struct TapPortCounters {
  uint64_t rx_gso = 0;           // GSO frames received
  uint64_t rx_csum_partial = 0;  // frames received with a partial checksum
  uint64_t tx_gso = 0;           // GSO frames written
  uint64_t rx_errors = 0;        // read() failures other than EAGAIN
  uint64_t tx_errors = 0;        // write() failures other than EAGAIN
  int last_rx_errno = 0;         // of the last such failure
  int last_tx_errno = 0;
};

class TapPort final : public Port {
 public:
  // Creates the interface (or attaches to an existing persistent one of that name).
  // nullptr and *error (one line) on failure: no /dev/net/tun, no permission, bad name...
  static std::unique_ptr<TapPort> create(TapPortConfig config, std::string* error);
  ~TapPort() override;

  uint16_t num_queues() const override { return static_cast<uint16_t>(fds_.size()); }
  uint16_t max_queues() const override { return num_queues(); }
  bool link_up() const override { return !fds_.empty(); }
  uint32_t capabilities() const override { return caps_; }
  uint16_t rx_burst(uint16_t queue, Packet** pkts, uint16_t max) override;
  uint16_t tx_burst(uint16_t queue, Packet** pkts, uint16_t n) override;
  const QueueStats& queue_stats(uint16_t queue) const override { return queues_[queue].stats; }

  // The interface's name as the kernel knows it.
  const std::string& ifname() const { return ifname_; }
  // The TUN_F_* bits the kernel accepted in TUNSETOFFLOAD (0 with offloads off).
  unsigned kernel_offloads() const { return tun_offloads_; }
  int fd(uint16_t queue) const { return fds_[queue]; }
  const TapPortCounters& counters() const { return counters_; }

  // Largest frame read from the kernel: a 64 KiB GSO frame plus its headers.
  static constexpr uint32_t kMaxFrameLen = 65536 + 256;

 private:
  struct Queue {
    QueueStats stats;
    std::vector<Packet*> spare;  // whole-buffer segments ready to take a large frame's tail
  };

  TapPort(TapPortConfig config, std::vector<int> fds, std::string ifname, unsigned offloads);
  bool refill_spares(Queue& q);
  Packet* read_frame(int fd, Queue& q, bool* again);
  void log(const std::string& line) const;

  TapPortConfig config_;
  std::vector<int> fds_;
  std::vector<Queue> queues_;
  std::string ifname_;
  unsigned tun_offloads_ = 0;
  uint32_t caps_ = 0;
  uint32_t spares_needed_ = 0;
  TapPortCounters counters_;
};

// Which TUN_F_* offload bits this kernel takes on a TAP file descriptor: tries the full
// set and backs off (USO4|USO6 together, then UFO, then TSO_ECN). Sets them and returns
// them; 0 if even TUN_F_CSUM is refused.
unsigned negotiate_tun_offloads(int fd, unsigned wanted);

}  // namespace ferry::port
