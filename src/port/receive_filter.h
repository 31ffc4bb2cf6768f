#pragma once

// ReceiveFilter: which frames a port's peer asked to receive, as a plain value the switch
// turns into its own filter (the runtime converts it to sw::RxFilter; the port layer sits
// below the switch and does not know it).
//
// It is what a virtio-net device keeps from its control queue (VIRTIO_NET_CTRL_RX modes,
// the MAC table, the primary MAC, the VLAN filter), with a virtio-net device's defaults:
// promiscuous until the driver says otherwise. A default ReceiveFilter therefore takes
// every frame, which is also what a port without receive filtering reports (TAP, AF_XDP,
// AF_PACKET, pcap and patch ports).
//
// Ports report changes through Port::rx_filter_generation(); see port.h.

#include <array>
#include <bitset>
#include <cstdint>
#include <vector>

namespace ferry::port {

using MacAddress = std::array<uint8_t, 6>;

struct ReceiveFilter {
  // VIRTIO_NET_CTRL_RX_PROMISC: every frame (the rest is then not consulted).
  bool promisc = true;
  // VIRTIO_NET_CTRL_RX_ALLMULTI / ALLUNI / NOMULTI / NOUNI / NOBCAST.
  bool allmulti = false;
  bool alluni = false;
  bool nomulti = false;
  bool nouni = false;
  bool nobcast = false;
  // The device's own address: unicast to it is taken (VIRTIO_NET_CTRL_MAC_ADDR_SET, else
  // the MAC the device was configured with). All zero: none.
  MacAddress mac{};
  // VIRTIO_NET_CTRL_MAC_TABLE_SET: further unicast addresses and the multicast groups.
  std::vector<MacAddress> unicast;
  std::vector<MacAddress> multicast;
  // VIRTIO_NET_F_CTRL_VLAN negotiated: a frame that reaches the peer tagged needs its VID in
  // `vlans` (VIRTIO_NET_CTRL_VLAN_ADD/DEL).
  bool vlan_filter = false;
  std::bitset<4096> vlans;
};

}  // namespace ferry::port
