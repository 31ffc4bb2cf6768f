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

}  // namespace ferry::csum::testing
