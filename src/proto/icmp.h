#pragma once

// ICMP header view (RFC 792). Every message has type, code, checksum and 4 bytes whose
// meaning depends on the type (identifier and sequence for echo).

#include <cstdint>

#include <netinet/ip_icmp.h>

#include "base/byteorder.h"

namespace ferry::proto {

struct IcmpHeader {
  uint8_t type;  // ICMP_ECHO, ICMP_ECHOREPLY, ICMP_DEST_UNREACH, ...
  uint8_t code;
  Be16 checksum;
  Be16 id;        // echo: identifier
  Be16 sequence;  // echo: sequence number

  bool is_echo() const { return type == ICMP_ECHO || type == ICMP_ECHOREPLY; }
  // Error messages carry the IP header + 8 bytes of the datagram that caused them.
  bool is_error() const {
    return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_REDIRECT ||
           type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
  }
};
static_assert(sizeof(IcmpHeader) == 8 && alignof(IcmpHeader) == 1);

inline constexpr uint32_t kIcmpHeaderLen = 8;

}  // namespace ferry::proto
