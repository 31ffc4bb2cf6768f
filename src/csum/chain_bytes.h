#pragma once

// Byte access across the segments of a chained Packet, for the checksum code: sums,
// small header copies and field stores that may straddle segment borders (segments can
// have any length, odd ones included). Offsets are from data() of the head. Every
// function checks its range against the data actually present in the chain.

#include <cstdint>
#include <initializer_list>  // packet.h iterates a braced list

#include "packet/packet.h"

namespace ferry::csum {

// Sum of the `len` bytes at `offset` added to `initial` (word pairing as if the bytes
// started at an even address). False if the chain holds fewer bytes.
bool sum_chain(const Packet& head, uint32_t offset, uint32_t len, uint32_t initial, uint32_t* sum);

// Copies `len` bytes at `offset` out of / into the chain; false (and nothing copied
// into the chain) if the chain holds fewer bytes.
bool copy_from_chain(const Packet& head, uint32_t offset, void* dst, uint32_t len);
bool copy_to_chain(Packet& head, uint32_t offset, const void* src, uint32_t len);

// The data bytes present in the chain (pkt_len() unless the chain is inconsistent).
uint32_t chain_data_len(const Packet& head);

}  // namespace ferry::csum
