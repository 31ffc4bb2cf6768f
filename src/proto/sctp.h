#pragma once

// SCTP common header (RFC 9260); chunks follow it.

#include <cstdint>

#include <netinet/in.h>

#include "base/byteorder.h"

namespace ferry::proto {

struct SctpHeader {
  Be16 src_port;
  Be16 dst_port;
  Be32 verification_tag;
  Be32 checksum;  // CRC32c
};
static_assert(sizeof(SctpHeader) == 12 && alignof(SctpHeader) == 1);

inline constexpr uint32_t kSctpHeaderLen = 12;

}  // namespace ferry::proto
