#pragma once

// IPv4 header view (RFC 791) and option walking.

#include <cstdint>
#include <span>

#include <netinet/in.h>
#include <netinet/ip.h>

#include "base/byteorder.h"
#include "proto/kind_len_options.h"

namespace ferry::proto {

struct Ipv4Header {
  uint8_t version_ihl;  // version(4) IHL(4), IHL in 32-bit words
  uint8_t tos;          // DSCP(6) ECN(2)
  Be16 total_length;    // header + payload
  Be16 id;
  Be16 frag_off;  // flags(3: reserved, DF, MF) offset(13, in 8-byte units)
  uint8_t ttl;
  uint8_t protocol;  // IPPROTO_*
  Be16 checksum;
  Be32 src;
  Be32 dst;

  uint8_t version() const { return version_ihl >> 4; }
  uint8_t ihl() const { return version_ihl & 0xf; }
  uint32_t header_len() const { return 4u * ihl(); }
  uint32_t options_len() const { return header_len() > 20 ? header_len() - 20 : 0; }
  uint8_t dscp() const { return tos >> 2; }
  uint8_t ecn() const { return tos & 0x3; }
  // Offset of this fragment's data in the original datagram, in bytes.
  uint32_t fragment_offset() const { return 8u * (frag_off.value() & IP_OFFMASK); }
  bool more_fragments() const { return (frag_off.value() & IP_MF) != 0; }
  bool dont_fragment() const { return (frag_off.value() & IP_DF) != 0; }
  // A fragment of a larger datagram (first, middle or last).
  bool is_fragment() const { return (frag_off.value() & (IP_MF | IP_OFFMASK)) != 0; }
  // Options start right after the fixed header; the caller checked header_len() fits.
  std::span<const uint8_t> options() const {
    return {reinterpret_cast<const uint8_t*>(this) + sizeof(Ipv4Header), options_len()};
  }
};
static_assert(sizeof(Ipv4Header) == 20 && alignof(Ipv4Header) == 1);

inline constexpr uint32_t kIpv4MinHeaderLen = 20;
inline constexpr uint32_t kIpv4MaxDatagram = 65535;

// IPv4 options (IPOPT_EOL, IPOPT_NOP, IPOPT_RR, IPOPT_TS, IPOPT_RA, ...): kind-length
// encoded; an option whose length is < 2 or runs past the header makes the list malformed.
using Ipv4Option = KindLenOption;
using Ipv4OptionIterator = KindLenIterator;
static_assert(IPOPT_EOL == KindLenIterator::kEnd && IPOPT_NOP == KindLenIterator::kNop);

// True if the option list is well formed.
inline bool ipv4_options_valid(std::span<const uint8_t> options) {
  Ipv4OptionIterator it(options);
  Ipv4Option opt;
  while (it.next(&opt)) {
  }
  return !it.malformed();
}

}  // namespace ferry::proto
