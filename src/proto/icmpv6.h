#pragma once

// ICMPv6 (RFC 4443) and the neighbour discovery messages NS/NA with their options
// (RFC 4861).

#include <cstdint>
#include <span>

#include <netinet/icmp6.h>

#include "base/byteorder.h"
#include "proto/ethernet.h"
#include "proto/ipv6.h"

namespace ferry::proto {

struct Icmpv6Header {
  uint8_t type;  // ICMP6_ECHO_REQUEST, ND_NEIGHBOR_SOLICIT, ...
  uint8_t code;
  Be16 checksum;

  bool is_error() const { return type < 128; }
  bool is_echo() const { return type == ICMP6_ECHO_REQUEST || type == ICMP6_ECHO_REPLY; }
};
static_assert(sizeof(Icmpv6Header) == 4 && alignof(Icmpv6Header) == 1);

inline constexpr uint32_t kIcmpv6HeaderLen = 4;

struct Icmpv6Echo {
  Icmpv6Header header;
  Be16 id;
  Be16 sequence;
};
static_assert(sizeof(Icmpv6Echo) == 8 && alignof(Icmpv6Echo) == 1);

// Neighbour solicitation: "who has target?". Options follow.
struct NdNeighborSolicit {
  Icmpv6Header header;
  Be32 reserved;
  Ipv6Address target;
};
static_assert(sizeof(NdNeighborSolicit) == 24 && alignof(NdNeighborSolicit) == 1);

// Neighbour advertisement: "target is at ..."; flags R(outer), S(olicited), O(verride).
struct NdNeighborAdvert {
  Icmpv6Header header;
  Be32 flags_reserved;
  Ipv6Address target;

  bool router() const { return (flags_reserved.value() & 0x80000000u) != 0; }
  bool solicited() const { return (flags_reserved.value() & 0x40000000u) != 0; }
  bool override_flag() const { return (flags_reserved.value() & 0x20000000u) != 0; }
};
static_assert(sizeof(NdNeighborAdvert) == 24 && alignof(NdNeighborAdvert) == 1);

// Length of the fixed part of each ND message, 0 for messages that are not ND.
inline constexpr uint32_t nd_fixed_len(uint8_t type) {
  switch (type) {
    case ND_ROUTER_SOLICIT:
      return 8;
    case ND_ROUTER_ADVERT:
      return 16;
    case ND_NEIGHBOR_SOLICIT:
      return 24;
    case ND_NEIGHBOR_ADVERT:
      return 24;
    case ND_REDIRECT:
      return 40;
    default:
      return 0;
  }
}

// One ND option: type, length in 8-byte units (0 is invalid), value.
struct NdOption {
  uint8_t type = 0;               // ND_OPT_SOURCE_LINKADDR, ND_OPT_TARGET_LINKADDR, ND_OPT_MTU, ...
  uint32_t len = 0;               // bytes, type and length included
  const uint8_t* data = nullptr;  // the option from its type byte

  // Source/target link-layer address option for Ethernet (len == 8).
  bool is_link_addr() const {
    return (type == ND_OPT_SOURCE_LINKADDR || type == ND_OPT_TARGET_LINKADDR) && len == 8;
  }
  MacAddress link_addr() const {
    MacAddress m;
    for (int i = 0; i < ETH_ALEN; i++)
      m.bytes[i] = data[2 + i];
    return m;
  }
};

// Walks the options after the fixed part of an ND message. A zero length or an option
// past the end of the message makes the list malformed (RFC 4861 says to drop it).
class NdOptionIterator {
 public:
  explicit NdOptionIterator(std::span<const uint8_t> options)
      : p_(options.data()), left_(static_cast<uint32_t>(options.size())) {}

  bool next(NdOption* option) {
    if (left_ == 0) return false;
    if (left_ < 2 || p_[1] == 0 || 8u * p_[1] > left_) {
      malformed_ = true;
      left_ = 0;
      return false;
    }
    option->type = p_[0];
    option->len = 8u * p_[1];
    option->data = p_;
    p_ += option->len;
    left_ -= option->len;
    return true;
  }
  bool malformed() const { return malformed_; }

 private:
  const uint8_t* p_;
  uint32_t left_;
  bool malformed_ = false;
};

}  // namespace ferry::proto
