#pragma once

#include <cstdint>

namespace ferry::csum {

// Why a checksum could not be filled, verified or converted. Packets and their offload
// metadata come from guests and the wire, so each reason is counted by the caller.
enum class CsumError : uint8_t {
  kOk = 0,
  kBadChecksum,         // the checksum in the packet is wrong
  kNoHeader,            // the packet type names no such header (or its offset is absent)
  kUnsupported,         // a protocol without a checksum Ferry handles here
  kFragment,            // an IP fragment: its L4 checksum covers other packets too
  kTruncated,           // a header or the length it announces runs past the packet
  kBadHeader,           // IP version, header length or L4 offset impossible
  kBadLength,           // IP or UDP length field impossible
  kBadState,            // the packet's csum_state() does not allow the operation
  kCsumStartBeyondEnd,  // csum_start at or past the end of the packet
  kCsumFieldBeyondEnd,  // csum_start + csum_offset + 2 past the end of the packet
  kCsumStartAfterL4,    // a COMPLETE sum that does not cover the L4 header
  kCount,
};

const char* to_string(CsumError error);

}  // namespace ferry::csum
