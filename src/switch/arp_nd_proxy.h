#pragma once

// ARP and neighbour discovery suppression (proxy), after Linux's br_arp_nd_proxy.c and
// EVPN practice: a broadcast ARP request or a multicast neighbour solicitation for an
// address the bridge knows (NeighborTable, per VLAN) is answered by the bridge, on the
// port it came from, instead of being flooded. Unknown targets are flooded as usual.
//
// The reply is built in place from the request (the request is consumed either way), so
// answering allocates nothing:
//  - ARP: Ethernet to the asker from the bound MAC, op reply, sender = (bound MAC,
//    asked IP), target = the asker's (MAC, IP). 42 bytes plus any customer tags; the
//    port pads to the minimum frame size.
//  - ND: a neighbour advertisement from the target address to the asker's address, hop
//    limit 255, flags Solicited and Override, a target link-layer address option, ICMPv6
//    checksum filled (pseudo header + message).
// Not answered (flooded): gratuitous ARP and ARP probes, duplicate address detection
// (NS from ::), unicast requests (they reach the owner through the FDB), NS with hop
// limit other than 255 or IPv6 extension headers, chained packets.
//
// Learning: ARP packets and neighbour advertisements that passed the port's
// anti-spoofing check teach the table the sender's binding.

#include <cstdint>

#include "packet/packet.h"
#include "switch/neighbor_table.h"

namespace ferry::sw {

enum class ProxyResult : uint8_t {
  kNotApplicable,  // not an ARP request / NS the proxy handles
  kReplied,        // the packet now holds the reply
  kUnknown,        // a request for an address the table does not know
};

// The frame's outer tag has been removed by the bridge (vid is its VLAN).
ProxyResult arp_nd_proxy(Packet& packet, uint16_t vid, const NeighborTable& table, bool arp,
                         bool nd);
// Learns the binding a frame announces; true if it was an ARP/NA that taught something.
bool learn_neighbor(const Packet& packet, uint16_t vid, NeighborTable& table, uint64_t now_ns);

}  // namespace ferry::sw
