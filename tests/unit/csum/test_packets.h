#pragma once

// Helpers for the checksum tests: synthetic frames with their parse metadata, packets
// chained from exactly sized heap segments (so ASan sees any access past a segment), and
// a small by-hand header walker for the real captures.

#include <cstring>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "base/byteorder.h"
#include "csum/csum_error.h"
#include "packet/packet.h"

namespace ferry::csum {
inline void PrintTo(CsumError e, std::ostream* os) {
  *os << to_string(e);
}
}  // namespace ferry::csum

namespace ferry::csum::testing {

// Parse metadata of a frame, as the parser would record it.
struct Meta {
  PacketType type;
  uint16_t l3 = kNoOffset, l4 = kNoOffset;
  uint16_t inner_l2 = kNoOffset, inner_l3 = kNoOffset, inner_l4 = kNoOffset;
};

struct Frame {
  std::vector<uint8_t> bytes;
  Meta meta;
};

inline void apply(Packet& p, const Meta& m) {
  p.set_packet_type(m.type);
  p.set_l3_offset(m.l3);
  p.set_l4_offset(m.l4);
  p.set_inner_l2_offset(m.inner_l2);
  p.set_inner_l3_offset(m.inner_l3);
  p.set_inner_l4_offset(m.inner_l4);
}

// A packet of one or more segments, each in its own exactly sized heap buffer.
class TestPacket {
 public:
  TestPacket(const std::vector<uint8_t>& bytes, const std::vector<uint32_t>& seg_lens = {}) {
    std::vector<uint32_t> lens = seg_lens;
    if (lens.empty()) lens.push_back(static_cast<uint32_t>(bytes.size()));
    uint32_t at = 0;
    for (uint32_t n : lens) {
      bufs_.push_back(std::make_unique<uint8_t[]>(n == 0 ? 1 : n));
      segs_.push_back(std::make_unique<Packet>());
      Packet& s = *segs_.back();
      s.init(bufs_.back().get(), n, 0, kNoPool);
      uint8_t* d = s.append(n);
      if (n > 0) std::memcpy(d, bytes.data() + at, n);
      at += n;
      if (segs_.size() > 1) segs_.front()->append_segment(&s);
    }
  }
  TestPacket(const Frame& f, const std::vector<uint32_t>& seg_lens = {})
      : TestPacket(f.bytes, seg_lens) {
    apply(head(), f.meta);
  }

  Packet& head() { return *segs_.front(); }
  std::vector<uint8_t> linear() const {
    std::vector<uint8_t> out;
    for (const Packet* s = segs_.front().get(); s != nullptr; s = s->next()) {
      out.insert(out.end(), s->data(), s->data() + s->data_len());
    }
    return out;
  }
  // Flips bits of the byte at `offset` of the chain.
  void flip(uint32_t offset, uint8_t bits = 0x01) {
    for (Packet* s = segs_.front().get(); s != nullptr; s = s->next()) {
      if (offset < s->data_len()) {
        s->data()[offset] ^= bits;
        return;
      }
      offset -= s->data_len();
    }
  }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> bufs_;
  std::vector<std::unique_ptr<Packet>> segs_;
};

// Random segment lengths summing to `total`, mostly odd and small.
inline std::vector<uint32_t> random_split(uint32_t total, std::mt19937& rng) {
  std::vector<uint32_t> lens;
  while (total > 0) {
    uint32_t n = 1 + 2 * (rng() % 20);  // odd
    if (rng() % 4 == 0) n = 1 + rng() % 300;
    if (n > total) n = total;
    lens.push_back(n);
    total -= n;
  }
  return lens;
}

inline void put_be16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  store_be16(&v[at], x);
}

inline void append_random(std::vector<uint8_t>& v, size_t n, std::mt19937& rng) {
  for (size_t i = 0; i < n; i++)
    v.push_back(static_cast<uint8_t>(rng()));
}

// Appends an Ethernet header with `ethertype`.
inline void append_ether(std::vector<uint8_t>& v, uint16_t ethertype, std::mt19937& rng) {
  append_random(v, 12, rng);
  v.push_back(static_cast<uint8_t>(ethertype >> 8));
  v.push_back(static_cast<uint8_t>(ethertype));
}

// Appends IPv4 or IPv6 + an L4 header of `l4` + payload; `inner` gets its length added
// afterwards by the caller through finish_ip(). Records the offsets in l3/l4.
struct IpSpec {
  bool v6 = false;
  L4Type l4 = L4Type::kTcp;
  size_t payload = 100;
  uint16_t udp_dport = 0;  // for tunnels
};

inline uint8_t proto_of(L4Type t) {
  switch (t) {
    case L4Type::kTcp:
      return 6;
    case L4Type::kUdp:
      return 17;
    case L4Type::kIcmp:
      return 1;
    case L4Type::kIcmpv6:
      return 58;
    default:
      return 253;
  }
}

// Appends the IP header and L4 header; the payload (payload bytes of random data or
// `inner`) follows. Returns {l3, l4}.
inline std::pair<uint16_t, uint16_t> append_ip(std::vector<uint8_t>& v, const IpSpec& s,
                                               const std::vector<uint8_t>* inner,
                                               std::mt19937& rng) {
  const uint16_t l3 = static_cast<uint16_t>(v.size());
  size_t l4_hdr = s.l4 == L4Type::kTcp ? 20 : 8;
  size_t payload = inner ? inner->size() : s.payload;
  size_t l4_len = l4_hdr + payload;
  if (!s.v6) {
    append_random(v, 20, rng);
    v[l3] = 0x45;
    put_be16(v, l3 + 2, static_cast<uint16_t>(20 + l4_len));
    put_be16(v, l3 + 6, 0x4000);  // DF, not a fragment
    v[l3 + 9] = proto_of(s.l4);
    put_be16(v, l3 + 10, 0);
  } else {
    append_random(v, 40, rng);
    v[l3] = 0x60;
    put_be16(v, l3 + 4, static_cast<uint16_t>(l4_len));
    v[l3 + 6] = proto_of(s.l4);
  }
  const uint16_t l4 = static_cast<uint16_t>(v.size());
  append_random(v, l4_hdr, rng);
  if (s.l4 == L4Type::kTcp) {
    v[l4 + 12] = 0x50;
  } else if (s.l4 == L4Type::kUdp) {
    put_be16(v, l4 + 4, static_cast<uint16_t>(l4_len));
    if (s.udp_dport) put_be16(v, l4 + 2, s.udp_dport);
  } else if (s.l4 == L4Type::kIcmp) {
    v[l4] = 8;  // echo request
    v[l4 + 1] = 0;
  } else if (s.l4 == L4Type::kIcmpv6) {
    v[l4] = 128;
    v[l4 + 1] = 0;
  }
  if (inner) {
    v.insert(v.end(), inner->begin(), inner->end());
  } else {
    append_random(v, payload, rng);
  }
  return {l3, l4};
}

inline L3Type l3_of(bool v6) {
  return v6 ? L3Type::kIpv6 : L3Type::kIpv4;
}

// Ethernet + IP + L4 + payload, then `padding` bytes of Ethernet padding.
inline Frame make_frame(const IpSpec& s, std::mt19937& rng, size_t padding = 0) {
  Frame f;
  append_ether(f.bytes, s.v6 ? 0x86dd : 0x0800, rng);
  auto [l3, l4] = append_ip(f.bytes, s, nullptr, rng);
  append_random(f.bytes, padding, rng);
  f.meta.type.set_l2(L2Type::kEther);
  f.meta.type.set_l3(l3_of(s.v6));
  f.meta.type.set_l4(s.l4);
  f.meta.l3 = l3;
  f.meta.l4 = l4;
  return f;
}

// VXLAN: outer Ethernet + IP + UDP(4789) + VXLAN header + the inner frame.
inline Frame make_vxlan(bool outer_v6, const IpSpec& inner_spec, std::mt19937& rng) {
  Frame inner = make_frame(inner_spec, rng);
  std::vector<uint8_t> vx(8, 0);
  vx[0] = 0x08;
  vx.insert(vx.end(), inner.bytes.begin(), inner.bytes.end());
  Frame f;
  append_ether(f.bytes, outer_v6 ? 0x86dd : 0x0800, rng);
  IpSpec outer{outer_v6, L4Type::kUdp, 0, 4789};
  auto [l3, l4] = append_ip(f.bytes, outer, &vx, rng);
  f.meta.type.set_l2(L2Type::kEther);
  f.meta.type.set_l3(l3_of(outer_v6));
  f.meta.type.set_l4(L4Type::kUdp);
  f.meta.type.set_tunnel(TunnelType::kVxlan);
  f.meta.type.set_inner_l2(L2Type::kEther);
  f.meta.type.set_inner_l3(l3_of(inner_spec.v6));
  f.meta.type.set_inner_l4(inner_spec.l4);
  f.meta.l3 = l3;
  f.meta.l4 = l4;
  const uint16_t inner_l2 = static_cast<uint16_t>(l4 + 16);
  f.meta.inner_l2 = inner_l2;
  f.meta.inner_l3 = static_cast<uint16_t>(inner_l2 + inner.meta.l3);
  f.meta.inner_l4 = static_cast<uint16_t>(inner_l2 + inner.meta.l4);
  return f;
}

// --- A by-hand header walker for real captures --------------------------------------------

namespace detail {

struct Level {
  L3Type l3 = L3Type::kNone;
  L4Type l4 = L4Type::kNone;
  uint16_t l3_off = kNoOffset, l4_off = kNoOffset;
  uint8_t tunnel_proto = 0;  // IP-in-IP: 4 or 41
};

inline Level walk_ip(const uint8_t* f, size_t len, size_t off, int version) {
  Level r;
  if (version == 4) {
    if (off + 20 > len || (f[off] >> 4) != 4) return r;
    size_t ihl = (f[off] & 15u) * 4;
    if (ihl < 20 || off + ihl > len) return r;
    r.l3 = ihl > 20 ? L3Type::kIpv4Ext : L3Type::kIpv4;
    r.l3_off = static_cast<uint16_t>(off);
    r.l4_off = static_cast<uint16_t>(off + ihl);
    uint8_t proto = f[off + 9];
    if ((load_be16(f + off + 6) & 0x3fff) != 0) {
      r.l4 = L4Type::kFragment;
      return r;
    }
    switch (proto) {
      case 6:
        r.l4 = L4Type::kTcp;
        break;
      case 17:
        r.l4 = L4Type::kUdp;
        break;
      case 1:
        r.l4 = L4Type::kIcmp;
        break;
      case 4:
      case 41:
        r.tunnel_proto = proto;
        break;
      default:
        r.l4 = L4Type::kOther;
    }
    return r;
  }
  if (off + 40 > len || (f[off] >> 4) != 6) return r;
  r.l3 = L3Type::kIpv6;
  r.l3_off = static_cast<uint16_t>(off);
  uint8_t nh = f[off + 6];
  size_t at = off + 40;
  for (int i = 0; i < 8 && (nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51); i++) {
    if (at + 8 > len) return r;
    r.l3 = L3Type::kIpv6Ext;
    if (nh == 44) {
      r.l4 = L4Type::kFragment;
      r.l4_off = static_cast<uint16_t>(at);
      return r;
    }
    uint8_t next = f[at];
    at += nh == 51 ? (f[at + 1] + 2u) * 4 : (f[at + 1] + 1u) * 8;
    nh = next;
  }
  if (at > len) return r;
  r.l4_off = static_cast<uint16_t>(at);
  switch (nh) {
    case 6:
      r.l4 = L4Type::kTcp;
      break;
    case 17:
      r.l4 = L4Type::kUdp;
      break;
    case 58:
      r.l4 = L4Type::kIcmpv6;
      break;
    case 4:
    case 41:
      r.tunnel_proto = nh;
      break;
    default:
      r.l4 = L4Type::kOther;
  }
  return r;
}

// Skips VLAN tags and MPLS labels; returns the IP version at `*off` (0 if none).
inline int walk_l2(const uint8_t* f, size_t len, size_t* off) {
  size_t at = *off + 12;
  if (at + 2 > len) return 0;
  uint16_t et = load_be16(f + at);
  while ((et == 0x8100 || et == 0x88a8) && at + 6 <= len) {
    at += 4;
    et = load_be16(f + at);
  }
  at += 2;
  if (et == 0x8864 && at + 8 <= len) {  // PPPoE session: 6 bytes, then the PPP protocol
    uint16_t ppp = load_be16(f + at + 6);
    *off = at + 8;
    return ppp == 0x0021 ? 4 : ppp == 0x0057 ? 6 : 0;
  }
  if (et == 0x8847) {
    while (at + 4 <= len) {
      bool bottom = f[at + 2] & 1;
      at += 4;
      if (bottom) break;
    }
    if (at >= len) return 0;
    *off = at;
    return f[at] >> 4 == 4 ? 4 : f[at] >> 4 == 6 ? 6 : 0;
  }
  *off = at;
  return et == 0x0800 ? 4 : et == 0x86dd ? 6 : 0;
}

}  // namespace detail

// Locates outer and (VXLAN, IP-in-IP) inner headers of an Ethernet frame.
inline Meta walk_frame(const std::vector<uint8_t>& frame) {
  Meta m;
  const uint8_t* f = frame.data();
  size_t len = frame.size();
  size_t off = 0;
  int version = detail::walk_l2(f, len, &off);
  if (version == 0) return m;
  detail::Level outer = detail::walk_ip(f, len, off, version);
  m.type.set_l2(L2Type::kEther);
  m.type.set_l3(outer.l3);
  m.type.set_l4(outer.l4);
  m.l3 = outer.l3_off;
  m.l4 = outer.l4_off;
  detail::Level inner;
  if (outer.tunnel_proto != 0) {
    m.type.set_tunnel(TunnelType::kIpInIp);
    m.l4 = kNoOffset;
    inner = detail::walk_ip(f, len, outer.l4_off, outer.tunnel_proto == 4 ? 4 : 6);
  } else if (outer.l4 == L4Type::kUdp && outer.l4_off + size_t{8} <= len &&
             load_be16(f + outer.l4_off + 2) == 4789) {
    size_t inner_l2 = outer.l4_off + 16;
    size_t at = inner_l2;
    int inner_version = detail::walk_l2(f, len, &at);
    if (inner_version == 0) return m;
    m.type.set_tunnel(TunnelType::kVxlan);
    m.type.set_inner_l2(L2Type::kEther);
    m.inner_l2 = static_cast<uint16_t>(inner_l2);
    inner = detail::walk_ip(f, len, at, inner_version);
  }
  if (inner.l3 != L3Type::kNone) {
    m.type.set_inner_l3(inner.l3);
    m.type.set_inner_l4(inner.l4);
    m.inner_l3 = inner.l3_off;
    m.inner_l4 = inner.l4_off;
  }
  return m;
}

}  // namespace ferry::csum::testing
