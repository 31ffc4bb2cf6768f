#pragma once

// The exact-match key of a flow: 5-tuple, VLAN and input port.

#include <cstdint>
#include <cstring>

#include "packet/packet.h"

namespace ferry::steer {

// 44 bytes, no padding holes: keys compare and hash as bytes. Build it zeroed (value
// initialisation), then fill the fields; an IPv4 address takes the first 4 bytes of src/dst.
struct FlowKey {
  uint8_t src[16];
  uint8_t dst[16];
  uint16_t src_port;  // host order; 0 for protocols without ports and for fragments
  uint16_t dst_port;
  uint16_t vlan_id;  // 12-bit VID of the outer tag (stripped or in the frame), 0 if none
  uint16_t in_port;
  uint8_t ip_proto;    // IPPROTO_*
  uint8_t ip_version;  // 4 or 6
  uint8_t reserved[2];

  friend bool operator==(const FlowKey& a, const FlowKey& b) {
    return std::memcmp(&a, &b, sizeof(FlowKey)) == 0;
  }
};
static_assert(sizeof(FlowKey) == 44);

// A 64-bit hash of the key (not keyed; the table's bounded probing keeps hostile
// collisions to a bounded cost, not to zero).
inline uint64_t flow_hash(const FlowKey& k) {
  uint64_t w[6] = {};
  std::memcpy(w, &k, sizeof k);
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (uint64_t x : w) {
    h ^= x;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 29);
}

// Fills `key` from a parsed packet (proto::parse_packet): outer IPv4/IPv6 addresses, the
// protocol, TCP/UDP/SCTP ports (not for fragments), the VLAN and the input port. False for
// packets without an IP header (the key is then zeroed but for vlan_id and in_port).
bool flow_key_from_packet(const Packet& packet, FlowKey* key);

}  // namespace ferry::steer
