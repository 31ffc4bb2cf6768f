#pragma once

// UDP header view (RFC 768).

#include <cstdint>

#include <netinet/in.h>

#include "base/byteorder.h"

namespace ferry::proto {

struct UdpHeader {
  Be16 src_port;
  Be16 dst_port;
  Be16 length;  // header + payload
  Be16 checksum;
};
static_assert(sizeof(UdpHeader) == 8 && alignof(UdpHeader) == 1);

inline constexpr uint32_t kUdpHeaderLen = 8;

}  // namespace ferry::proto
