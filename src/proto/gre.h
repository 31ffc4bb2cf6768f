#pragma once

// GRE header view (RFC 2784 with the key and sequence extensions of RFC 2890; version 1
// is the enhanced GRE of PPTP, RFC 2637).

#include <cstdint>

#include <netinet/in.h>

#include "base/byteorder.h"

namespace ferry::proto {

struct GreHeader {
  Be16 flags_version;  // C R K S s Recur(3) | flags(5) version(3)
  Be16 protocol;       // EtherType of the payload (ETH_P_TEB for Ethernet)

  static constexpr uint16_t kChecksum = 0x8000;
  static constexpr uint16_t kRouting = 0x4000;
  static constexpr uint16_t kKey = 0x2000;
  static constexpr uint16_t kSequence = 0x1000;
  static constexpr uint16_t kAck = 0x0080;  // version 1 only
  static constexpr uint16_t kVersionMask = 0x0007;

  bool checksum_present() const { return (flags_version.value() & kChecksum) != 0; }
  bool routing_present() const { return (flags_version.value() & kRouting) != 0; }
  bool key_present() const { return (flags_version.value() & kKey) != 0; }
  bool sequence_present() const { return (flags_version.value() & kSequence) != 0; }
  bool ack_present() const { return (flags_version.value() & kAck) != 0; }
  uint8_t version() const { return flags_version.value() & kVersionMask; }

  // Length of a version 0 header without routing: 4 + 4 per C, K, S bit.
  uint32_t header_len() const {
    return 4u + (checksum_present() ? 4u : 0u) + (key_present() ? 4u : 0u) +
           (sequence_present() ? 4u : 0u);
  }
  // Offsets of the optional fields (valid when present); they come in C, K, S order.
  uint32_t key_offset() const { return 4u + (checksum_present() ? 4u : 0u); }
  uint32_t sequence_offset() const { return key_offset() + (key_present() ? 4u : 0u); }
};
static_assert(sizeof(GreHeader) == 4 && alignof(GreHeader) == 1);

inline constexpr uint32_t kGreMinHeaderLen = 4;

}  // namespace ferry::proto
