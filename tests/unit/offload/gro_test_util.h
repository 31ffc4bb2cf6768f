#pragma once

// Frame builders and a reference re-segmenter for the GRO tests.
//
// The builders write Ethernet / IPv4 / IPv6 / TCP / UDP / VXLAN / Geneve / GRE frames
// with every checksum filled by a plain byte-wise reference sum (independent of the csum
// layer). reference_segment() models what GSO does with a merged packet (Linux
// tcp_gso_segment / __udp_gso_segment and the tunnel GSO handlers): the head's headers
// copied per segment, lengths, sequence numbers, IPv4 IDs (incrementing or fixed), CWR on
// the first segment only, FIN/PSH on the last only, every checksum recomputed. So
// reference_segment(gro(stream)) == stream is the "GSO recreates the segments byte for
// byte" property, checked until the GSO engine can be used directly.

#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <linux/if_ether.h>
#include <netinet/in.h>

#include "packet/packet.h"
#include "packet/packet_bytes.h"
#include "proto/parser.h"

namespace ferry::offload::testing {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
inline void put32(Bytes& b, size_t at, uint32_t v) {
  put16(b, at, static_cast<uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<uint16_t>(v));
}
inline uint16_t get16(const Bytes& b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}
inline uint32_t get32(const Bytes& b, size_t at) {
  return uint32_t{get16(b, at)} << 16 | get16(b, at + 2);
}

// Byte-wise one's-complement sum (big-endian words), not folded.
inline uint64_t ref_sum(const uint8_t* p, size_t n, uint64_t s = 0) {
  for (size_t i = 0; i < n; i++)
    s += (i & 1) ? p[i] : uint64_t{p[i]} << 8;
  return s;
}
inline uint16_t ref_fold(uint64_t s) {
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// Fills the L4 checksum at l4 (TCP or UDP) under the IP header at l3; the L4 data runs
// to the end of the frame.
inline void fill_l4(Bytes& f, size_t l3, size_t l4, bool v6, uint8_t proto) {
  const size_t field = l4 + (proto == IPPROTO_TCP ? 16 : 6);
  put16(f, field, 0);
  const uint32_t len = static_cast<uint32_t>(f.size() - l4);
  uint64_t s = 0;
  if (!v6) {
    s = ref_sum(&f[l3 + 12], 8);
  } else {
    s = ref_sum(&f[l3 + 8], 32);
  }
  s += proto + (len >> 16) + (len & 0xffff);
  s = ref_sum(&f[l4], len, s);
  uint16_t c = static_cast<uint16_t>(~ref_fold(s));
  if (proto == IPPROTO_UDP && c == 0) c = 0xffff;
  put16(f, field, c);
}
inline void fill_ipv4(Bytes& f, size_t l3) {
  put16(f, l3 + 10, 0);
  put16(f, l3 + 10, static_cast<uint16_t>(~ref_fold(ref_sum(&f[l3], 20))));
}

struct FlowSpec {
  bool v6 = false;
  bool udp = false;
  uint8_t src = 1, dst = 2;  // last byte of 10.0.0.x / fd00::x
  uint16_t sport = 40000, dport = 80;
  uint8_t ttl = 64, tos = 0;  // tos: traffic class for IPv6
  bool df = true;
  uint32_t flow_label = 0x12345;
  uint16_t window = 502;
  Bytes options;      // TCP options, a multiple of 4 bytes
  uint16_t vlan = 0;  // an in-frame 802.1Q tag when non-zero
  uint8_t mac = 0x10;
};

struct SegSpec {
  uint32_t seq = 1000;
  uint32_t ack = 5000;
  uint8_t flags = 0x10;  // ACK
  uint16_t ip_id = 100;
  Bytes payload;
  bool zero_udp_csum = false;
};

// Ethernet (+VLAN) / IP / TCP or UDP / payload, checksums filled.
inline Bytes build_frame(const FlowSpec& fs, const SegSpec& ss) {
  Bytes f = {0x02, 0, 0, 0, 0, fs.mac, 0x02, 0, 0, 0, 0, static_cast<uint8_t>(fs.mac + 1)};
  if (fs.vlan != 0) {
    f.insert(f.end(),
             {0x81, 0x00, static_cast<uint8_t>(fs.vlan >> 8), static_cast<uint8_t>(fs.vlan)});
  }
  const uint16_t et = fs.v6 ? ETH_P_IPV6 : ETH_P_IP;
  f.push_back(static_cast<uint8_t>(et >> 8));
  f.push_back(static_cast<uint8_t>(et));
  const size_t l3 = f.size();
  const uint8_t proto = fs.udp ? IPPROTO_UDP : IPPROTO_TCP;
  const size_t l4_hdr = fs.udp ? 8 : 20 + fs.options.size();
  const size_t l4_len = l4_hdr + ss.payload.size();
  if (!fs.v6) {
    f.resize(l3 + 20);
    f[l3] = 0x45;
    f[l3 + 1] = fs.tos;
    put16(f, l3 + 2, static_cast<uint16_t>(20 + l4_len));
    put16(f, l3 + 4, ss.ip_id);
    put16(f, l3 + 6, fs.df ? 0x4000 : 0);
    f[l3 + 8] = fs.ttl;
    f[l3 + 9] = proto;
    uint8_t a[8] = {10, 0, 0, fs.src, 10, 0, 0, fs.dst};
    std::memcpy(&f[l3 + 12], a, 8);
    fill_ipv4(f, l3);
  } else {
    f.resize(l3 + 40);
    put32(f, l3, 0x60000000u | uint32_t{fs.tos} << 20 | (fs.flow_label & 0xfffff));
    put16(f, l3 + 4, static_cast<uint16_t>(l4_len));
    f[l3 + 6] = proto;
    f[l3 + 7] = fs.ttl;
    f[l3 + 8] = 0xfd;
    f[l3 + 23] = fs.src;
    f[l3 + 24] = 0xfd;
    f[l3 + 39] = fs.dst;
  }
  const size_t l4 = f.size();
  f.resize(l4 + l4_hdr);
  put16(f, l4, fs.sport);
  put16(f, l4 + 2, fs.dport);
  if (fs.udp) {
    put16(f, l4 + 4, static_cast<uint16_t>(l4_len));
  } else {
    put32(f, l4 + 4, ss.seq);
    put32(f, l4 + 8, ss.ack);
    f[l4 + 12] = static_cast<uint8_t>((l4_hdr / 4) << 4);
    f[l4 + 13] = ss.flags;
    put16(f, l4 + 14, fs.window);
    if (!fs.options.empty()) std::memcpy(&f[l4 + 20], fs.options.data(), fs.options.size());
  }
  f.insert(f.end(), ss.payload.begin(), ss.payload.end());
  fill_l4(f, l3, l4, fs.v6, proto);
  if (fs.udp && ss.zero_udp_csum) put16(f, l4 + 6, 0);
  return f;
}

enum class Tun { kNone, kVxlan, kGeneve, kGre };

struct OuterSpec {
  Tun tun = Tun::kVxlan;
  bool v6 = false;
  bool udp_csum = true;   // VXLAN/Geneve: outer UDP checksum filled
  bool gre_csum = false;  // GRE checksum present
  bool gre_key = true;
  uint16_t ip_id = 7;
  bool df = true;
  uint16_t sport = 51000;
  uint32_t vni = 42;
  Bytes geneve_options;  // multiple of 4
};

// Wraps an Ethernet frame in outer Ethernet / IP / (UDP + VXLAN|Geneve) or GRE (TEB).
inline Bytes encap(const Bytes& inner, const OuterSpec& o) {
  Bytes f = {0x02, 0, 0, 0, 0, 0xa0, 0x02, 0, 0, 0, 0, 0xa1};
  const uint16_t et = o.v6 ? ETH_P_IPV6 : ETH_P_IP;
  f.push_back(static_cast<uint8_t>(et >> 8));
  f.push_back(static_cast<uint8_t>(et));
  const size_t l3 = f.size();
  Bytes tun;
  uint8_t proto;
  if (o.tun == Tun::kGre) {
    proto = IPPROTO_GRE;
    uint16_t flags = (o.gre_csum ? 0x8000 : 0) | (o.gre_key ? 0x2000 : 0);
    tun = {static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags), 0x65, 0x58};
    if (o.gre_csum) tun.insert(tun.end(), {0, 0, 0, 0});
    if (o.gre_key) tun.insert(tun.end(), {0, 0, 0, static_cast<uint8_t>(o.vni)});
  } else {
    proto = IPPROTO_UDP;
    tun.resize(8);
    put16(tun, 0, o.sport);
    put16(tun, 2, o.tun == Tun::kVxlan ? 4789 : 6081);
    if (o.tun == Tun::kVxlan) {
      tun.insert(tun.end(), {0x08, 0, 0, 0, 0, 0, static_cast<uint8_t>(o.vni), 0});
    } else {
      tun.insert(tun.end(), {static_cast<uint8_t>(o.geneve_options.size() / 4), 0, 0x65, 0x58, 0, 0,
                             static_cast<uint8_t>(o.vni), 0});
      tun.insert(tun.end(), o.geneve_options.begin(), o.geneve_options.end());
    }
  }
  const size_t l4_len = tun.size() + inner.size();
  if (!o.v6) {
    f.resize(l3 + 20);
    f[l3] = 0x45;
    put16(f, l3 + 2, static_cast<uint16_t>(20 + l4_len));
    put16(f, l3 + 4, o.ip_id);
    put16(f, l3 + 6, o.df ? 0x4000 : 0);
    f[l3 + 8] = 64;
    f[l3 + 9] = proto;
    uint8_t a[8] = {192, 168, 0, 1, 192, 168, 0, 2};
    std::memcpy(&f[l3 + 12], a, 8);
    fill_ipv4(f, l3);
  } else {
    f.resize(l3 + 40);
    put32(f, l3, 0x60000000u);
    put16(f, l3 + 4, static_cast<uint16_t>(l4_len));
    f[l3 + 6] = proto;
    f[l3 + 7] = 64;
    f[l3 + 8] = 0x20;
    f[l3 + 23] = 1;
    f[l3 + 24] = 0x20;
    f[l3 + 39] = 2;
  }
  const size_t l4 = f.size();
  f.insert(f.end(), tun.begin(), tun.end());
  f.insert(f.end(), inner.begin(), inner.end());
  if (o.tun != Tun::kGre) {
    put16(f, l4 + 4, static_cast<uint16_t>(l4_len));
    if (o.udp_csum) fill_l4(f, l3, l4, o.v6, IPPROTO_UDP);
  } else if (o.gre_csum) {
    put16(f, l4 + 4, static_cast<uint16_t>(~ref_fold(ref_sum(&f[l4], f.size() - l4))));
  }
  return f;
}

// The flow a frame belongs to (innermost addresses and ports), for per-flow order checks.
inline std::string flow_of(const Bytes& f) {
  proto::ParseResult r = proto::parse_frame(f);
  uint16_t l3 = r.l3_offset, l4 = r.l4_offset;
  bool v6 = r.type.is_ipv6();
  if (r.type.tunnel() != TunnelType::kNone && r.inner_l4_offset != kNoOffset) {
    l3 = r.inner_l3_offset;
    l4 = r.inner_l4_offset;
    v6 = r.type.is_inner_ipv6();
  }
  if (l3 == kNoOffset || l4 == kNoOffset || size_t{l4} + 4 > f.size()) return "other";
  std::string k;
  if (!v6) {
    k.assign(f.begin() + l3 + 12, f.begin() + l3 + 20);
  } else {
    k.assign(f.begin() + l3 + 8, f.begin() + l3 + 40);
  }
  k.append(f.begin() + l4, f.begin() + l4 + 4);
  return k;
}

// What GSO makes of a packet: the packet itself if it is not GSO, else its segments.
inline std::vector<Bytes> reference_segment(const Packet& p) {
  Bytes all = packet_to_bytes(p);
  if (!p.is_gso()) return {all};
  const uint16_t type = p.gso_type();
  const bool tunnel = (type & (kGsoUdpTunnel | kGsoGre)) != 0;
  const bool tcp = (type & (kGsoTcpv4 | kGsoTcpv6)) != 0;
  const bool v6 = (type & kGsoTcpv6) != 0 ||
                  (!tcp && (tunnel ? p.packet_type().is_inner_ipv6() : p.packet_type().is_ipv6()));
  const size_t l3 = tunnel ? p.inner_l3_offset() : p.l3_offset();
  const size_t l4 = p.csum_start();
  const size_t hdr = tcp ? l4 + (all[l4 + 12] >> 4) * 4 : l4 + 8;
  const size_t mss = p.gso_size();
  const size_t payload = all.size() - hdr;
  const size_t n = (payload + mss - 1) / mss;
  const bool fixed = (type & kGsoTcpFixedId) != 0;
  std::vector<Bytes> out;
  for (size_t i = 0; i < n; i++) {
    const size_t len = std::min(mss, payload - i * mss);
    Bytes s(all.begin(), all.begin() + hdr);
    s.insert(s.end(), all.begin() + hdr + i * mss, all.begin() + hdr + i * mss + len);
    if (tunnel) {
      const size_t ol3 = p.l3_offset(), ol4 = p.l4_offset();
      const bool ov6 = p.packet_type().is_ipv6();
      if (!ov6) {
        put16(s, ol3 + 2, static_cast<uint16_t>(s.size() - ol3));
        put16(s, ol3 + 4, static_cast<uint16_t>(get16(all, ol3 + 4) + (fixed ? 0 : i)));
        fill_ipv4(s, ol3);
      } else {
        put16(s, ol3 + 4, static_cast<uint16_t>(s.size() - ol3 - 40));
      }
      (void)ov6;
      if ((type & kGsoUdpTunnel) != 0) put16(s, ol4 + 4, static_cast<uint16_t>(s.size() - ol4));
    }
    if (!v6) {
      put16(s, l3 + 2, static_cast<uint16_t>(s.size() - l3));
      put16(s, l3 + 4, static_cast<uint16_t>(get16(all, l3 + 4) + (fixed ? 0 : i)));
      fill_ipv4(s, l3);
    } else {
      put16(s, l3 + 4, static_cast<uint16_t>(s.size() - l3 - 40));
    }
    if (tcp) {
      put32(s, l4 + 4, static_cast<uint32_t>(get32(all, l4 + 4) + i * mss));
      if (i > 0) s[l4 + 13] &= static_cast<uint8_t>(~0x80);               // CWR: first only
      if (i + 1 < n) s[l4 + 13] &= static_cast<uint8_t>(~(0x01 | 0x08));  // FIN, PSH: last only
      fill_l4(s, l3, l4, v6, IPPROTO_TCP);
    } else {
      put16(s, l4 + 4, static_cast<uint16_t>(s.size() - l4));
      fill_l4(s, l3, l4, v6, IPPROTO_UDP);
    }
    if (tunnel) {
      const size_t ol3 = p.l3_offset(), ol4 = p.l4_offset();
      const bool ov6 = p.packet_type().is_ipv6();
      if ((type & kGsoUdpTunnelCsum) != 0) fill_l4(s, ol3, ol4, ov6, IPPROTO_UDP);
      if ((type & kGsoGreCsum) != 0) {
        put16(s, ol4 + 4, 0);
        put16(s, ol4 + 4, static_cast<uint16_t>(~ref_fold(ref_sum(&s[ol4], s.size() - ol4))));
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

inline Bytes random_bytes(size_t n, std::mt19937& rng) {
  Bytes b(n);
  for (auto& x : b)
    x = static_cast<uint8_t>(rng());
  return b;
}

}  // namespace ferry::offload::testing
