#pragma once

// Frames for the bridge tests: built byte by byte, held in packets from a BufferPool,
// parsed like a port's rx path would.

#include <cstdint>
#include <memory>
#include <vector>

#include <linux/if_ether.h>
#include <net/if_arp.h>
#include <netinet/in.h>

#include "packet/buffer_pool.h"
#include "packet/packet_bytes.h"
#include "proto/ethernet.h"
#include "proto/ipv6.h"
#include "proto/parser.h"

namespace ferry::sw::test {

using Bytes = std::vector<uint8_t>;
using proto::Ipv6Address;
using proto::MacAddress;

inline MacAddress mac(uint64_t v) {
  return MacAddress::from_u64(v);
}

inline void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
inline void put_mac(Bytes& b, const MacAddress& m) {
  b.insert(b.end(), m.bytes, m.bytes + 6);
}

// Ethernet header with optional tags (tpid, tci pairs), then ether_type and payload.
inline Bytes ethernet(const MacAddress& dst, const MacAddress& src, uint16_t ether_type,
                      const Bytes& payload, std::vector<std::pair<uint16_t, uint16_t>> tags = {}) {
  Bytes b;
  put_mac(b, dst);
  put_mac(b, src);
  for (auto [tpid, tci] : tags) {
    put16(b, tpid);
    put16(b, tci);
  }
  put16(b, ether_type);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

inline Bytes ipv4_udp(uint32_t src, uint32_t dst, uint16_t sport = 1000, uint16_t dport = 2000,
                      uint32_t payload_len = 18) {
  Bytes b;
  uint16_t total = static_cast<uint16_t>(20 + 8 + payload_len);
  b.push_back(0x45);
  b.push_back(0);
  put16(b, total);
  put16(b, 1);
  put16(b, 0);
  b.push_back(64);
  b.push_back(17);
  put16(b, 0);
  put32(b, src);
  put32(b, dst);
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload_len));
  put16(b, 0);
  for (uint32_t i = 0; i < payload_len; i++)
    b.push_back(static_cast<uint8_t>(i));
  return b;
}

inline Bytes arp(uint16_t op, const MacAddress& sha, uint32_t spa, const MacAddress& tha,
                 uint32_t tpa) {
  Bytes b;
  put16(b, 1);
  put16(b, ETH_P_IP);
  b.push_back(6);
  b.push_back(4);
  put16(b, op);
  put_mac(b, sha);
  put32(b, spa);
  put_mac(b, tha);
  put32(b, tpa);
  return b;
}

inline Ipv6Address ip6(uint16_t a, uint16_t last) {
  Ipv6Address x;
  x.bytes[0] = static_cast<uint8_t>(a >> 8);
  x.bytes[1] = static_cast<uint8_t>(a);
  x.bytes[14] = static_cast<uint8_t>(last >> 8);
  x.bytes[15] = static_cast<uint8_t>(last);
  return x;
}

inline Ipv6Address solicited_node(const Ipv6Address& t) {
  Ipv6Address x;
  x.bytes[0] = 0xff;
  x.bytes[1] = 0x02;
  x.bytes[11] = 0x01;
  x.bytes[12] = 0xff;
  x.bytes[13] = t.bytes[13];
  x.bytes[14] = t.bytes[14];
  x.bytes[15] = t.bytes[15];
  return x;
}

inline MacAddress ipv6_multicast_mac(const Ipv6Address& a) {
  MacAddress m;
  m.bytes[0] = 0x33;
  m.bytes[1] = 0x33;
  for (int i = 0; i < 4; i++)
    m.bytes[2 + i] = a.bytes[12 + i];
  return m;
}

// IPv6 header + ICMPv6 body (checksum computed by the caller or left 0).
inline Bytes ipv6(const Ipv6Address& src, const Ipv6Address& dst, uint8_t next, uint8_t hop,
                  const Bytes& body) {
  Bytes b;
  put32(b, 0x60000000u);
  put16(b, static_cast<uint16_t>(body.size()));
  b.push_back(next);
  b.push_back(hop);
  b.insert(b.end(), src.bytes, src.bytes + 16);
  b.insert(b.end(), dst.bytes, dst.bytes + 16);
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

// Neighbour solicitation body, with a source link-layer address option if sll != 0.
inline Bytes ns_body(const Ipv6Address& target, const MacAddress* sll) {
  Bytes b = {135, 0, 0, 0, 0, 0, 0, 0};
  b.insert(b.end(), target.bytes, target.bytes + 16);
  if (sll != nullptr) {
    b.push_back(1);
    b.push_back(1);
    put_mac(b, *sll);
  }
  return b;
}

inline Bytes na_body(const Ipv6Address& target, const MacAddress& tll) {
  Bytes b = {136, 0, 0, 0, 0x60, 0, 0, 0};
  b.insert(b.end(), target.bytes, target.bytes + 16);
  b.push_back(2);
  b.push_back(1);
  put_mac(b, tll);
  return b;
}

inline std::unique_ptr<BufferPool> make_pool(uint32_t n = 1024) {
  BufferPool::Config c;
  c.name = "switch_test";
  c.buffer_count = n;
  return BufferPool::create(c);
}

// A parsed packet entering on in_port.
inline Packet* rx(BufferPool& pool, const Bytes& frame, uint16_t in_port) {
  Packet* p = packet_from_bytes(pool, frame);
  if (p == nullptr) return nullptr;
  proto::parse_packet(*p);
  p->set_in_port(in_port);
  return p;
}

}  // namespace ferry::sw::test
