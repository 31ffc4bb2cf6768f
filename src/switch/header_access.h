#pragma once

// Reading a header of a parsed Packet by offset: a pointer into the head segment when
// the bytes are there (the usual case), else a copy gathered into the caller's scratch;
// nullptr if the packet is shorter. Chained packets from hostile guests can put any
// byte in any segment, so the bridge never assumes headers sit in the head.

#include <cstdint>

#include "packet/packet.h"
#include "packet/segment_reader.h"

namespace ferry::sw {

inline const uint8_t* header_at(const Packet& p, uint32_t offset, uint32_t len, uint8_t* scratch) {
  if (offset + len <= p.data_len()) return p.data() + offset;
  if (!copy_out(p, offset, scratch, len)) return nullptr;
  return scratch;
}

}  // namespace ferry::sw
