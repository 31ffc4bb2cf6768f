#pragma once

// Port: where packets enter and leave the switch.
//
// A port has one or more queues; each queue has a receive side (peer -> switch) and a
// transmit side (switch -> peer), driven in bursts by exactly one worker thread:
//
//   uint16_t n = port.rx_burst(q, pkts, 64);  // the caller now owns pkts[0..n)
//   ... switch ...
//   port.tx_burst(q, pkts, n);                // the port owns them all now
//
// tx_burst() always takes ownership of all n packets: each is either handed to the peer
// or freed and counted as a drop under a DropReason. Its return value is the number
// handed to the peer. A burst costs at most one virtual call; ports loop over the burst
// internally with no per-packet indirection.
//
// Capabilities describe what the peer takes and gives right now (they follow the
// peer's negotiation, e.g. a guest's virtio features, and may change between bursts):
// the switch keeps a packet's offload state (partial checksum, GSO) only towards ports
// that accept it and finishes it in software otherwise.
//
// A port may also report a receive filter: the frames its peer asked for (a virtio-net
// guest programs one through its control queue). The owning worker compares
// rx_filter_generation() with the value it saw last, once per turn of its poll loop (never
// per packet), and only on a change reads rx_filter() and hands it to the switch.
//
// How to write a port: see docs/writing-a-port.md.

#include <cstdint>
#include <string>

#include "packet/packet.h"
#include "port/port_stats.h"
#include "port/receive_filter.h"

namespace ferry::port {

enum PortCapabilityBits : uint32_t {
  kCapTxCsum = 1u << 0,      // tx: the peer takes kPartial packets (finishes checksums)
  kCapTxTso4 = 1u << 1,      // tx: the peer takes TCPv4 GSO packets
  kCapTxTso6 = 1u << 2,      // tx: the peer takes TCPv6 GSO packets
  kCapTxUso = 1u << 3,       // tx: the peer takes UDP L4 GSO packets
  kCapTxUfo = 1u << 4,       // tx: the peer takes UFO packets
  kCapTxEcn = 1u << 5,       // tx: ... with the ECN flag
  kCapRxCsum = 1u << 6,      // rx: packets may arrive kPartial / kUnnecessary
  kCapRxLarge = 1u << 7,     // rx: packets may arrive as GSO (large receive / TSO from peer)
  kCapRss = 1u << 8,         // rx: queues are chosen by an RSS hash
  kCapVlanInsert = 1u << 9,  // tx: vlan_tci() is inserted by the peer
  kCapVlanStrip = 1u << 10,  // rx: tags arrive stripped into vlan_tci()
  // tx: the peer takes RSC-coalesced packets with their RSC info (virtio RSC_EXT); others
  // get them as plain TSO frames (offload::rsc_strip_info).
  kCapTxRscInfo = 1u << 11,
};

class Port {
 public:
  virtual ~Port() = default;
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  const std::string& name() const { return name_; }

  // Queues usable now (may grow when a guest enables more queue pairs).
  virtual uint16_t num_queues() const = 0;
  // True while the peer can exchange packets.
  virtual bool link_up() const = 0;
  virtual uint32_t capabilities() const = 0;

  // Receives up to max packets from queue into pkts; returns how many (the caller owns them).
  virtual uint16_t rx_burst(uint16_t queue, Packet** pkts, uint16_t max) = 0;
  // Sends pkts[0..n) on queue, taking ownership of all of them; returns how many the peer got.
  virtual uint16_t tx_burst(uint16_t queue, Packet** pkts, uint16_t n) = 0;

  // Counters of one queue (queue < max_queues()), and the port's total.
  virtual uint16_t max_queues() const = 0;
  virtual const QueueStats& queue_stats(uint16_t queue) const = 0;

  // The receive filter's generation: changes whenever the filter does. The default, 0 for
  // ever, means the port has no filter and takes every frame (TAP, AF_XDP, pcap, patch).
  // Called by the owning worker between bursts.
  virtual uint64_t rx_filter_generation() const { return 0; }
  // The filter in force now (a default ReceiveFilter takes every frame). Called by the
  // owning worker after the generation changed.
  virtual void rx_filter(ReceiveFilter* out) const { *out = ReceiveFilter{}; }
  QueueStats stats() const {
    QueueStats s;
    for (uint16_t q = 0; q < max_queues(); q++)
      s.add(queue_stats(q));
    return s;
  }

 protected:
  explicit Port(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

}  // namespace ferry::port
