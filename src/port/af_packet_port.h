#pragma once

// AfPacketPort: an existing Linux interface (a veth end, a NIC) through AF_PACKET sockets,
// the fallback where AF_XDP is not available.
//
//   rx_burst(q)  a TPACKET_V3 receive ring (mmap'ed blocks the kernel fills and hands over
//                whole); frames are copied into pool packets. PACKET_VNET_HDR puts a 10-byte
//                virtio-net header in front of every frame (at tp_mac - 10), so GSO frames
//                arrive whole with their gso_size and partial checksum, as from a TAP. A
//                VLAN tag the kernel had stripped into metadata (TP_STATUS_VLAN_VALID) is
//                put back into the frame.
//   tx_burst(q)  sendmmsg(): one message per packet, the vnet header and the packet's
//                segments as iovecs, so the kernel segments or checksums as the interface
//                needs (its own GSO / checksum offload or software).
//
// The socket is bound to the interface with promiscuous membership and
// PACKET_IGNORE_OUTGOING (Ferry does not see its own transmissions). With queues > 1 the
// sockets join a PACKET_FANOUT_HASH group: the kernel spreads flows over the queues.
// The virtio-net header is always on (it is what keeps GSO frames usable); `offloads`
// false makes the port take only plain frames on tx (checksums finished in software, GSO
// refused).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

#include "packet/buffer_pool.h"
#include "port/port.h"
#include "virtio/virtio_net_abi.h"

namespace ferry::port {

struct AfPacketPortConfig {
  std::string name = "afp0";
  std::string ifname;              // the interface to bind, in the caller's namespace
  uint16_t queues = 1;             // > 1: that many sockets in one PACKET_FANOUT_HASH group
  bool offloads = true;            // pass partial checksums and GSO to the kernel on tx
  uint32_t block_size = 1u << 18;  // rx ring block (holds at least one 64 KiB GSO frame)
  uint32_t block_count = 32;
  BufferPool* pool = nullptr;
  std::function<void(std::string_view)> log;  // default: stderr
};

struct AfPacketCounters {
  uint64_t rx_gso = 0;            // GSO frames received
  uint64_t rx_vlan_restored = 0;  // stripped VLAN tags put back into frames
  uint64_t tx_gso = 0;
  uint64_t tx_errors = 0;  // sendmmsg failures other than a full queue
};

class AfPacketPort final : public Port {
 public:
  // nullptr and *error (one line) when the interface does not exist, the socket or ring
  // cannot be set up (no CAP_NET_RAW), ...
  static std::unique_ptr<AfPacketPort> create(AfPacketPortConfig config, std::string* error);
  ~AfPacketPort() override;

  uint16_t num_queues() const override { return static_cast<uint16_t>(queues_.size()); }
  uint16_t max_queues() const override { return num_queues(); }
  bool link_up() const override { return true; }
  uint32_t capabilities() const override { return caps_; }
  uint16_t rx_burst(uint16_t queue, Packet** pkts, uint16_t max) override;
  uint16_t tx_burst(uint16_t queue, Packet** pkts, uint16_t n) override;
  const QueueStats& queue_stats(uint16_t queue) const override { return queues_[queue].stats; }

  int fd(uint16_t queue) const { return queues_[queue].fd; }
  const AfPacketCounters& counters() const { return counters_; }

 private:
  struct Queue {
    int fd = -1;
    uint8_t* ring = nullptr;
    size_t ring_len = 0;
    uint32_t block = 0;         // block being read
    uint32_t pkt_in_block = 0;  // packets of it already taken
    uint8_t* next_pkt = nullptr;
    QueueStats stats;
  };

  explicit AfPacketPort(AfPacketPortConfig config);
  bool open_queue(Queue& q, int ifindex, uint16_t index, std::string* error);
  Packet* take_frame(Queue& q, const uint8_t* hdr_base);
  void log(const std::string& line) const;

  AfPacketPortConfig config_;
  std::vector<Queue> queues_;
  uint32_t caps_ = 0;
  AfPacketCounters counters_;
  // sendmmsg scratch: one message per packet of a burst, their iovecs and headers.
  std::vector<struct mmsghdr> msgs_;
  std::vector<struct iovec> iovs_;
  std::vector<virtio_net_hdr_v1> hdrs_;
  std::vector<Packet*> pending_;
};

}  // namespace ferry::port
