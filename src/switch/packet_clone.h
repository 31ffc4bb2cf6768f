#pragma once

// Copies of a packet for flooding: each output port gets its own frame, because the
// egress edits (VLAN tags pushed per port, offload fix-ups) differ per port.

#include "packet/buffer_pool.h"
#include "packet/packet.h"

namespace ferry::sw {

// A deep copy of src (every segment's bytes, and the head's metadata: type, offsets,
// offload state, hash, VLAN TCI, input port) in buffers of `pool`, chained if the frame
// is larger than one buffer. nullptr if the pool runs out (nothing leaks).
Packet* clone_packet(BufferPool& pool, const Packet& src);

}  // namespace ferry::sw
