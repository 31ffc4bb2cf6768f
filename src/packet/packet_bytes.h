#pragma once

// Building packets from bytes and flattening them back: for tests, tools (pcap in and
// out) and slow paths. The fast paths build packets in place instead.

#include <cstdint>
#include <span>
#include <vector>

#include "packet/buffer_pool.h"
#include "packet/packet.h"

namespace ferry {

// A packet holding a copy of bytes, from pool: the head keeps the pool's headroom and
// takes as much as its data room holds; the rest goes into further segments that use
// their whole buffer (no headroom). Empty bytes give one empty segment. nullptr, and
// nothing allocated, if the pool runs out.
Packet* packet_from_bytes(BufferPool& pool, std::span<const uint8_t> bytes);

// A chain of segments from pool holding bytes, every segment using its whole buffer (no
// headroom), as payload segments are. Empty bytes give nullptr; so does running out of
// buffers (then nothing stays allocated).
Packet* segments_from_bytes(BufferPool& pool, std::span<const uint8_t> bytes);

// The packet's bytes (chain_length() of them) as one vector.
std::vector<uint8_t> packet_to_bytes(const Packet& head);

}  // namespace ferry
