#include "csum/ip_checksum.h"

#include <cstring>
#include <random>

#include <arpa/inet.h>

#include <gtest/gtest.h>

#include "base/byteorder.h"

namespace ferry::csum {
namespace {

// The folded sum as a network-order number, as it is written by hand.
uint16_t net(uint32_t sum) {
  return __builtin_bswap16(fold(sum));
}

TEST(PseudoHeader, Ipv4ByHand) {
  uint8_t src[4] = {192, 168, 0, 1}, dst[4] = {192, 168, 0, 199};
  // c0a8 + 0001 + c0a8 + 00c7 + 0011 + 000a = 0x18233 -> 0x8234
  EXPECT_EQ(net(pseudo_sum_ipv4(src, dst, 17, 10)), 0x8234);
  // 0a00 + 0001 + 0a00 + 0002 + 0006 + 05dc = 0x19e5
  uint8_t s2[4] = {10, 0, 0, 1}, d2[4] = {10, 0, 0, 2};
  EXPECT_EQ(net(pseudo_sum_ipv4(s2, d2, 6, 1500)), 0x19e5);
}

TEST(PseudoHeader, Ipv6ByHand) {
  in6_addr src{}, dst{};
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::1", &src), 1);
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::2", &dst), 1);
  // 2*2001 + 2*0db8 + 1 + 2 + 0x20 (length) + 0x3a (ICMPv6) = 0x5bcf
  EXPECT_EQ(net(pseudo_sum_ipv6(&src, &dst, 58, 0x20)), 0x5bcf);
  // A length above 16 bits adds both of its halves: + 0x0001 + 0x0000 - 0x20.
  EXPECT_EQ(net(pseudo_sum_ipv6(&src, &dst, 58, 0x10000)), 0x5bcf - 0x20 + 1);
}

TEST(Ipv4Header, KnownHeader) {
  // 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7: checksum 0xb861.
  uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_FALSE(ipv4_header_valid(h, 20));
  ipv4_header_fill(h, 20);
  EXPECT_EQ(load_be16(h + 10), 0xb861);
  EXPECT_TRUE(ipv4_header_valid(h, 20));
  // The checksum does not depend on what the field held.
  EXPECT_EQ(ipv4_header_checksum(h, 20), load_unaligned<uint16_t>(h + 10));
  h[8] = 0x3f;  // TTL
  EXPECT_FALSE(ipv4_header_valid(h, 20));
}

TEST(Ipv4Header, WithOptions) {
  std::mt19937 rng(5);
  for (uint32_t ihl = 5; ihl <= 15; ihl++) {
    uint8_t h[60];
    for (auto& b : h)
      b = static_cast<uint8_t>(rng());
    h[0] = static_cast<uint8_t>(0x40 | ihl);
    ipv4_header_fill(h, ihl * 4);
    EXPECT_TRUE(ipv4_header_valid(h, ihl * 4));
    h[ihl * 4 - 1] ^= 0x40;
    EXPECT_FALSE(ipv4_header_valid(h, ihl * 4));
  }
}

// RFC 1624 eqn. 3 gives what a full recomputation gives, for 16- and 32-bit fields.
TEST(Incremental, MatchesRecomputation) {
  std::mt19937_64 rng(1624);
  for (int trial = 0; trial < 20000; trial++) {
    uint8_t h[20];
    for (auto& b : h)
      b = static_cast<uint8_t>(rng());
    h[0] = 0x45;
    if (trial % 5 == 0) std::memset(h + 12, 0, 8);  // edge: zero addresses
    ipv4_header_fill(h, 20);
    uint16_t check = load_unaligned<uint16_t>(h + 10);
    if (trial & 1) {
      size_t at = 12 + 4 * (rng() % 2);  // an address (NAT)
      uint32_t old_v = load_unaligned<uint32_t>(h + at);
      uint32_t new_v = trial % 3 == 0 ? 0 : static_cast<uint32_t>(rng());
      store_unaligned(h + at, new_v);
      check = update32(check, old_v, new_v);
    } else {
      size_t at = 2 * (rng() % 10);
      if (at == 10) at = 8;  // TTL/protocol rather than the checksum itself
      uint16_t old_v = load_unaligned<uint16_t>(h + at);
      uint16_t new_v = trial % 3 == 0 ? 0xffff : static_cast<uint16_t>(rng());
      store_unaligned(h + at, new_v);
      check = update16(check, old_v, new_v);
    }
    ASSERT_EQ(check, ipv4_header_checksum(h, 20)) << trial;
  }
}

// A NAT rewrite of an L4 checksum: address (in the pseudo header) and port.
TEST(Incremental, PortAndAddressAndBytes) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 2000; trial++) {
    uint8_t src[16], dst[16], seg[64];
    for (auto& b : src)
      b = static_cast<uint8_t>(rng());
    for (auto& b : dst)
      b = static_cast<uint8_t>(rng());
    for (auto& b : seg)
      b = static_cast<uint8_t>(rng());
    auto full = [&](bool v6) {
      uint32_t ps = v6 ? pseudo_sum_ipv6(src, dst, 6, sizeof(seg))
                       : pseudo_sum_ipv4(src, dst, 6, sizeof(seg));
      std::memset(seg + 16, 0, 2);
      return finish(raw_sum(seg, sizeof(seg), ps));
    };
    bool v6 = trial & 1;
    uint16_t check = full(v6);
    store_unaligned(seg + 16, check);
    uint8_t new_addr[16];
    for (auto& b : new_addr)
      b = static_cast<uint8_t>(rng());
    check = update_bytes(check, src, new_addr, v6 ? 16 : 4);
    std::memcpy(src, new_addr, v6 ? 16 : 4);
    uint16_t old_port = load_unaligned<uint16_t>(seg);
    uint16_t new_port = static_cast<uint16_t>(rng());
    store_unaligned(seg, new_port);
    check = update16(check, old_port, new_port);
    ASSERT_EQ(check, full(v6)) << trial;
  }
}

}  // namespace
}  // namespace ferry::csum
