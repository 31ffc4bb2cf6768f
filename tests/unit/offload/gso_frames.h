#pragma once

// Frames for the GSO and tunnel tests: TCP/UDP over IPv4/IPv6 with a deterministic
// payload, packets built from pool buffers with chosen chain splits.

#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include <linux/if_ether.h>
#include <netinet/in.h>

#include "base/byteorder.h"
#include "packet/buffer_pool.h"
#include "packet/packet.h"

namespace ferry::offload::testing {

using Bytes = std::vector<uint8_t>;

struct FlowSpec {
  bool v6 = false;
  bool udp = false;
  uint32_t payload = 4000;
  bool timestamps = true;    // TCP timestamp option (12 bytes with 2 NOPs)
  uint8_t tcp_flags = 0x18;  // ACK|PSH
  uint16_t ip_id = 0x1234;
  uint8_t ip_flags = 0x40;    // DF
  uint32_t seq = 0xfffff000;  // wraps within a 64 KB frame
  uint16_t sport = 40000;
  uint16_t dport = 5201;
  uint8_t seed = 1;
};

inline Bytes payload_bytes(uint32_t n, uint8_t seed) {
  Bytes b(n);
  uint32_t x = 0x12345678u * (seed + 1);
  for (uint32_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    b[i] = static_cast<uint8_t>(x >> 16);
  }
  return b;
}

// IP header + L4 header + payload, lengths set, L4 checksum field zero.
inline Bytes ip_packet(const FlowSpec& s) {
  const uint32_t ip_hl = s.v6 ? 40 : 20;
  const uint32_t l4_hl = s.udp ? 8 : (s.timestamps ? 32 : 20);
  const uint32_t l4_len = l4_hl + s.payload;
  Bytes out(ip_hl + l4_len, 0);
  uint8_t* ip = out.data();
  uint8_t* l4 = ip + ip_hl;
  const uint8_t proto = s.udp ? IPPROTO_UDP : IPPROTO_TCP;
  if (s.v6) {
    store_be32(ip, 0x60012345);
    store_be16(ip + 4, static_cast<uint16_t>(l4_len));
    ip[6] = proto;
    ip[7] = 64;
    for (int i = 0; i < 16; i++) {
      ip[8 + i] = static_cast<uint8_t>(0x20 + i);
      ip[24 + i] = static_cast<uint8_t>(0x40 + i);
    }
    ip[8] = 0xfd;
    ip[24] = 0xfd;
  } else {
    ip[0] = 0x45;
    store_be16(ip + 2, static_cast<uint16_t>(20 + l4_len));
    store_be16(ip + 4, s.ip_id);
    ip[6] = s.ip_flags;
    ip[8] = 64;
    ip[9] = proto;
    const uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
    std::memcpy(ip + 12, addrs, 8);
  }
  store_be16(l4, s.sport);
  store_be16(l4 + 2, s.dport);
  if (s.udp) {
    store_be16(l4 + 4, static_cast<uint16_t>(l4_len));
  } else {
    store_be32(l4 + 4, s.seq);
    store_be32(l4 + 8, 0xabcdef01);
    l4[12] = static_cast<uint8_t>((l4_hl / 4) << 4);
    l4[13] = s.tcp_flags;
    store_be16(l4 + 14, 502);
    if (s.timestamps) {
      const uint8_t ts[12] = {1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8};
      std::memcpy(l4 + 20, ts, sizeof(ts));
    }
  }
  const Bytes pl = payload_bytes(s.payload, s.seed);
  if (!pl.empty()) std::memcpy(l4 + l4_hl, pl.data(), pl.size());
  return out;
}

inline Bytes eth_frame(const Bytes& l3, bool v6) {
  Bytes f(14 + l3.size());
  const uint8_t mac[12] = {0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, 0xaa};
  std::memcpy(f.data(), mac, 12);
  store_be16(&f[12], v6 ? ETH_P_IPV6 : ETH_P_IP);
  std::memcpy(f.data() + 14, l3.data(), l3.size());
  return f;
}

inline Bytes flow_frame(const FlowSpec& s) {
  return eth_frame(ip_packet(s), s.v6);
}

// A packet from the pool holding `bytes`, split into segments of the given lengths (the
// rest in one last segment); payload segments use their whole buffer.
inline Packet* chain_from(BufferPool& pool, const Bytes& bytes, const std::vector<uint32_t>& lens) {
  Packet* head = nullptr;
  uint32_t at = 0;
  size_t li = 0;
  while (at < bytes.size() || head == nullptr) {
    uint32_t n = li < lens.size() ? lens[li++] : static_cast<uint32_t>(bytes.size() - at);
    Packet* s = pool.alloc();
    if (s == nullptr) {
      free_packet(head);
      return nullptr;
    }
    if (head != nullptr) s->move_data(-static_cast<int32_t>(s->headroom()));
    const uint32_t room = s->tailroom();
    if (n > room) n = room;
    if (n > bytes.size() - at) n = static_cast<uint32_t>(bytes.size() - at);
    if (n > 0) std::memcpy(s->append(n), bytes.data() + at, n);
    at += n;
    if (head == nullptr) {
      head = s;
    } else {
      head->append_segment(s);
    }
  }
  return head;
}

// Segment lengths: odd, small and random, summing to at most total.
inline std::vector<uint32_t> odd_split(uint32_t total, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint32_t> lens;
  uint32_t sum = 0;
  while (sum < total) {
    uint32_t n = 1 + 2 * (rng() % 400);
    if (rng() % 5 == 0) n = 1 + rng() % 7;
    if (n > total - sum) n = total - sum;
    lens.push_back(n);
    sum += n;
  }
  return lens;
}

}  // namespace ferry::offload::testing
