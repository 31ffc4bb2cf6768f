#pragma once

// IPv6 header view (RFC 8200), its extension headers and the TLV options of the
// hop-by-hop and destination options headers.

#include <cstdint>
#include <span>

#include <netinet/in.h>
#include <netinet/ip6.h>

#include "base/byteorder.h"

namespace ferry::proto {

struct Ipv6Address {
  uint8_t bytes[16] = {};
  friend constexpr bool operator==(const Ipv6Address& a, const Ipv6Address& b) = default;
};
static_assert(sizeof(Ipv6Address) == 16 && alignof(Ipv6Address) == 1);

struct Ipv6Header {
  Be32 vtc_flow;        // version(4) traffic class(8) flow label(20)
  Be16 payload_length;  // bytes after this header, extension headers included
  uint8_t next_header;  // IPPROTO_*
  uint8_t hop_limit;
  Ipv6Address src;
  Ipv6Address dst;

  uint8_t version() const { return static_cast<uint8_t>(vtc_flow.value() >> 28); }
  uint8_t traffic_class() const { return static_cast<uint8_t>(vtc_flow.value() >> 20); }
  uint32_t flow_label() const { return vtc_flow.value() & 0xfffff; }
};
static_assert(sizeof(Ipv6Header) == 40 && alignof(Ipv6Header) == 1);

inline constexpr uint32_t kIpv6HeaderLen = 40;

// The common start of hop-by-hop, routing and destination options headers.
struct Ipv6ExtHeader {
  uint8_t next_header;
  uint8_t hdr_ext_len;  // in 8-byte units, not counting the first 8 bytes

  uint32_t header_len() const { return 8u * (hdr_ext_len + 1u); }
};
static_assert(sizeof(Ipv6ExtHeader) == 2 && alignof(Ipv6ExtHeader) == 1);

struct Ipv6RoutingHeader {
  uint8_t next_header;
  uint8_t hdr_ext_len;
  uint8_t routing_type;  // 4 = segment routing (RFC 8754)
  uint8_t segments_left;

  uint32_t header_len() const { return 8u * (hdr_ext_len + 1u); }
};
static_assert(sizeof(Ipv6RoutingHeader) == 4 && alignof(Ipv6RoutingHeader) == 1);

struct Ipv6FragmentHeader {
  uint8_t next_header;
  uint8_t reserved;
  Be16 frag_off;  // offset(13, in 8-byte units) reserved(2) M(1)
  Be32 identification;

  uint32_t fragment_offset() const { return frag_off.value() & 0xfff8u; }  // in bytes
  bool more_fragments() const { return (frag_off.value() & 1u) != 0; }
  // An "atomic" fragment (offset 0, no more fragments) carries the whole datagram.
  bool is_atomic() const { return (frag_off.value() & 0xfff9u) == 0; }
};
static_assert(sizeof(Ipv6FragmentHeader) == 8 && alignof(Ipv6FragmentHeader) == 1);

// The authentication header counts its length in 4-byte units, minus 2 (RFC 4302).
struct Ipv6AuthHeader {
  uint8_t next_header;
  uint8_t payload_len;
  uint8_t reserved[2];
  Be32 spi;
  Be32 sequence;

  uint32_t header_len() const { return 4u * (payload_len + 2u); }
};
static_assert(sizeof(Ipv6AuthHeader) == 12 && alignof(Ipv6AuthHeader) == 1);

inline constexpr uint32_t kIpv6ExtHeaderMinLen = 8;

// Extension headers the parser walks over; any other next-header value is upper layer.
inline constexpr bool is_ipv6_ext_header(uint8_t next_header) {
  return next_header == IPPROTO_HOPOPTS || next_header == IPPROTO_ROUTING ||
         next_header == IPPROTO_FRAGMENT || next_header == IPPROTO_DSTOPTS ||
         next_header == IPPROTO_AH;
}

// One TLV option of a hop-by-hop or destination options header.
struct Ipv6Option {
  uint8_t type = 0;      // IP6OPT_PAD1, IP6OPT_PADN, IP6OPT_JUMBO, IP6OPT_ROUTER_ALERT...
  uint8_t data_len = 0;  // value bytes (0 for Pad1)
  const uint8_t* data = nullptr;
  // The two high bits of the type say what a node that does not know it must do.
  uint8_t unknown_action() const { return IP6OPT_TYPE(type); }
};

// Walks the options area of a hop-by-hop/destination options header (the bytes after its
// first two). Pad1 is one byte; every other option is type, length, value.
class Ipv6OptionIterator {
 public:
  explicit Ipv6OptionIterator(std::span<const uint8_t> options)
      : p_(options.data()), left_(static_cast<uint32_t>(options.size())) {}

  // Stores the next option; false at the end or if the area is malformed (malformed()).
  bool next(Ipv6Option* option) {
    if (left_ == 0) return false;
    option->type = p_[0];
    if (p_[0] == IP6OPT_PAD1) {
      option->data_len = 0;
      option->data = nullptr;
      p_++;
      left_--;
      return true;
    }
    if (left_ < 2 || 2u + p_[1] > left_) {
      malformed_ = true;
      left_ = 0;
      return false;
    }
    option->data_len = p_[1];
    option->data = p_ + 2;
    p_ += 2u + p_[1];
    left_ -= 2u + option->data_len;
    return true;
  }
  bool malformed() const { return malformed_; }

 private:
  const uint8_t* p_;
  uint32_t left_;
  bool malformed_ = false;
};

}  // namespace ferry::proto
