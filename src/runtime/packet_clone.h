#pragma once

// Copies of packets for flooding and for handing packets to another worker's pool.

#include "packet/buffer_pool.h"
#include "packet/packet.h"

namespace ferry::runtime {

// A copy of p (data, chain and metadata: offsets, type, offload state, VLAN, RSS hash,
// input port) from pool; nullptr if the pool ran out.
Packet* clone_packet(BufferPool& pool, const Packet& p);

// A 32-bit hash of the packet's flow (addresses and ports when parsed, else the MAC
// addresses): picks the output queue of a multiqueue port when no RSS hash is set.
uint32_t flow_hash(const Packet& p);

}  // namespace ferry::runtime
