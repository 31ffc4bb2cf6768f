#pragma once

// Small composable builders for crafted test frames: each wraps a payload in one header
// and fills in its length fields, e.g. eth(ETH_P_IP, ipv4(IPPROTO_UDP, udp(53, 53, data))).

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include <linux/if_ether.h>
#include <netinet/in.h>

namespace ferry::proto::test {

using Bytes = std::vector<uint8_t>;

inline void append(Bytes& out, const Bytes& in) {
  const size_t at = out.size();
  out.resize(at + in.size());
  if (!in.empty()) std::memcpy(out.data() + at, in.data(), in.size());
}
inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts)
    append(out, p);
  return out;
}
inline void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
inline void push16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
inline void push32(Bytes& b, uint32_t v) {
  push16(b, static_cast<uint16_t>(v >> 16));
  push16(b, static_cast<uint16_t>(v));
}
inline Bytes payload(size_t n, uint8_t fill = 0xab) {
  return Bytes(n, fill);
}

// Ethernet header (no payload): dst 02:00:00:00:00:02, src 02:00:00:00:00:01.
inline Bytes eth_header(uint16_t ether_type) {
  Bytes b = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
  push16(b, ether_type);
  return b;
}
inline Bytes eth(uint16_t ether_type, const Bytes& l3) {
  return cat({eth_header(ether_type), l3});
}
// A VLAN tag as it follows a TPID: TCI, then the next EtherType.
inline Bytes vlan_tag(uint16_t vid, uint16_t next_type) {
  Bytes b;
  push16(b, vid);
  push16(b, next_type);
  return b;
}

inline Bytes ipv4(uint8_t proto, const Bytes& l4, const Bytes& options = {},
                  uint16_t frag_off = 0) {
  Bytes b = {static_cast<uint8_t>(0x40 | ((20 + options.size()) / 4)), 0};
  push16(b, static_cast<uint16_t>(20 + options.size() + l4.size()));
  push16(b, 0x1234);  // id
  push16(b, frag_off);
  b.push_back(64);
  b.push_back(proto);
  push16(b, 0);  // checksum (the parser does not check it)
  push32(b, 0x0a000001);
  push32(b, 0x0a000002);
  append(b, options);
  append(b, l4);
  return b;
}

inline Bytes ipv6(uint8_t next, const Bytes& payload_bytes) {
  Bytes b;
  push32(b, 0x60000000);
  push16(b, static_cast<uint16_t>(payload_bytes.size()));
  b.push_back(next);
  b.push_back(64);
  for (int i = 0; i < 32; i++)
    b.push_back(i == 15 || i == 31 ? 1 : 0);
  append(b, payload_bytes);
  return b;
}
// An IPv6 hop-by-hop/destination/routing header of 8 * (ext_len + 1) bytes: the given
// body (options area) padded with PadN.
inline Bytes ipv6_ext(uint8_t next, const Bytes& body, const Bytes& rest) {
  const size_t len = (body.size() + 2 + 7) / 8 * 8;
  Bytes b = {next, static_cast<uint8_t>(len / 8 - 1)};
  append(b, body);
  size_t pad = len - b.size();
  if (pad == 1) b.push_back(0);  // Pad1
  if (pad >= 2) {
    b.push_back(1);
    b.push_back(static_cast<uint8_t>(pad - 2));
    b.resize(len, 0);
  }
  append(b, rest);
  return b;
}
inline Bytes ipv6_frag(uint8_t next, uint16_t offset_bytes, bool more, const Bytes& rest) {
  Bytes b = {next, 0};
  push16(b, static_cast<uint16_t>(offset_bytes | (more ? 1 : 0)));
  push32(b, 0xabcd);
  append(b, rest);
  return b;
}

inline Bytes tcp(const Bytes& options = {}, const Bytes& data = {}) {
  Bytes b;
  push16(b, 1234);
  push16(b, 80);
  push32(b, 1);
  push32(b, 0);
  b.push_back(static_cast<uint8_t>(((20 + options.size()) / 4) << 4));
  b.push_back(0x02);  // SYN
  push16(b, 65535);
  push16(b, 0);
  push16(b, 0);
  append(b, options);
  append(b, data);
  return b;
}
inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes& data) {
  Bytes b;
  push16(b, sport);
  push16(b, dport);
  push16(b, static_cast<uint16_t>(8 + data.size()));
  push16(b, 0);
  append(b, data);
  return b;
}
inline Bytes icmp_echo() {
  return {8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'};
}
inline Bytes vxlan(uint32_t vni, const Bytes& inner) {
  Bytes b;
  push32(b, 0x08000000);
  push32(b, vni << 8);
  append(b, inner);
  return b;
}
inline Bytes geneve(uint16_t protocol, const Bytes& options, const Bytes& inner) {
  Bytes b = {static_cast<uint8_t>(options.size() / 4), 0};
  push16(b, protocol);
  push32(b, 0x00012300);  // VNI 0x000123
  append(b, options);
  append(b, inner);
  return b;
}
// GRE version 0 with the optional fields chosen by flags (GreHeader::kChecksum, ...).
inline Bytes gre(uint16_t flags, uint16_t protocol, const Bytes& inner) {
  Bytes b;
  push16(b, flags);
  push16(b, protocol);
  if (flags & 0x8000) push32(b, 0);
  if (flags & 0x2000) push32(b, 0x11223344);
  if (flags & 0x1000) push32(b, 7);
  append(b, inner);
  return b;
}
inline Bytes mpls_label(uint32_t label, bool bottom) {
  Bytes b;
  push32(b, (label << 12) | (bottom ? 0x100u : 0u) | 64u);
  return b;
}

// A typical frame of each kind used by several tests.
inline Bytes tcp_v4_frame() {
  // MSS, SACK-permitted, timestamps, NOP, window scale: 20 option bytes.
  Bytes opts = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
  return eth(ETH_P_IP, ipv4(IPPROTO_TCP, tcp(opts, payload(10))));
}

}  // namespace ferry::proto::test
