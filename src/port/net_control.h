#pragma once

// The virtio-net control queue (VIRTIO_NET_F_CTRL_VQ), device side: the commands a
// driver sends and the port state they set, which the switch reads to program receive
// filters (rx mode, MAC table, VLAN filter) and queue use (MQ pairs).
//
// A command arrives as one chain: the readable part is {class, command, data...}, the
// writable part one ack byte. execute() takes the readable bytes gathered in one buffer
// (at most kMaxCommandBytes; a larger MAC table is refused), checks them and answers
// VIRTIO_NET_OK or VIRTIO_NET_ERR; unknown classes and commands are counted.

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "port/receive_filter.h"

namespace ferry::port {

struct NetControlState {
  // VIRTIO_NET_CTRL_RX, MAC and VLAN: the receive filter the driver asked for. A device
  // comes out of reset promiscuous, as QEMU's virtio-net does (virtio_net_reset: promisc
  // on, the other modes off, MAC table and VLAN filter empty): a driver without CTRL_RX
  // cannot ask for anything else, and one with it sets its mode when the interface comes
  // up (Linux: virtnet_set_rx_mode sends PROMISC, ALLMULTI and the MAC table at open).
  // filter.mac is the address of MAC_ADDR_SET (mac_set); filter.vlan_filter is left to
  // the device, which knows whether CTRL_VLAN was negotiated.
  ReceiveFilter filter;
  bool mac_set = false;
  // VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET.
  uint16_t queue_pairs = 1;
  // VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET: the GUEST_* feature bits the driver keeps on.
  uint64_t guest_offloads = 0;
  bool guest_offloads_set = false;
  // Commands that changed the receive filter (rx mode, MAC table or address, VLANs).
  uint64_t filter_changes = 0;
  uint64_t announce_acks = 0;
  uint64_t commands = 0;
  uint64_t rejected = 0;  // answered VIRTIO_NET_ERR (malformed or unknown)
  uint64_t unknown = 0;   // of those, unknown class or command
};

class NetControl {
 public:
  static constexpr size_t kMaxCommandBytes = 8192;
  static constexpr size_t kMaxMacEntries = 512;

  // features: the negotiated virtio features (which classes are allowed);
  // max_queue_pairs: the largest value VQ_PAIRS_SET may set.
  NetControl(uint64_t features, uint16_t max_queue_pairs);

  // Executes one command; returns VIRTIO_NET_OK or VIRTIO_NET_ERR.
  uint8_t execute(const uint8_t* cmd, size_t len);

  const NetControlState& state() const { return state_; }
  NetControlState& state() { return state_; }

 private:
  uint8_t rx_mode(uint8_t cmd, const uint8_t* data, size_t len);
  uint8_t mac(uint8_t cmd, const uint8_t* data, size_t len);
  uint8_t vlan(uint8_t cmd, const uint8_t* data, size_t len);
  uint8_t mq(uint8_t cmd, const uint8_t* data, size_t len);
  uint8_t offloads(uint8_t cmd, const uint8_t* data, size_t len);
  uint8_t unknown();

  uint64_t features_;
  uint16_t max_queue_pairs_;
  NetControlState state_;
};

}  // namespace ferry::port
