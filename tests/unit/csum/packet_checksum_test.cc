#include "csum/packet_checksum.h"

#include <random>

#include <gtest/gtest.h>

#include "base/byteorder.h"
#include "csum/ip_checksum.h"
#include "test_packets.h"

namespace ferry::csum {
namespace {

using testing::Frame;
using testing::IpSpec;
using testing::TestPacket;

// Independent of the engine: the pseudo header laid out as bytes, summed byte by byte.
uint16_t reference_l4_fold(const std::vector<uint8_t>& f, const testing::Meta& m, bool v6,
                           L4Type l4, uint32_t l4_len) {
  std::vector<uint8_t> bytes;
  if (l4 != L4Type::kIcmp) {
    if (!v6) {
      bytes.insert(bytes.end(), f.begin() + m.l3 + 12, f.begin() + m.l3 + 20);
      bytes.push_back(0);
      bytes.push_back(testing::proto_of(l4));
      bytes.push_back(static_cast<uint8_t>(l4_len >> 8));
      bytes.push_back(static_cast<uint8_t>(l4_len));
    } else {
      bytes.insert(bytes.end(), f.begin() + m.l3 + 8, f.begin() + m.l3 + 40);
      for (int i = 3; i >= 0; i--)
        bytes.push_back(static_cast<uint8_t>(l4_len >> (8 * i)));
      bytes.insert(bytes.end(), {0, 0, 0, testing::proto_of(l4)});
    }
  }
  bytes.insert(bytes.end(), f.begin() + m.l4, f.begin() + m.l4 + l4_len);
  uint64_t s = 0;
  for (size_t i = 0; i < bytes.size(); i++)
    s += (i & 1) ? bytes[i] : uint64_t{bytes[i]} << 8;
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);  // network-order value
}

uint32_t field_of(L4Type t) {
  return t == L4Type::kTcp ? 16 : t == L4Type::kUdp ? 6 : 2;
}

struct Case {
  bool v6;
  L4Type l4;
};
const Case kCases[] = {{false, L4Type::kTcp}, {false, L4Type::kUdp}, {false, L4Type::kIcmp},
                       {true, L4Type::kTcp},  {true, L4Type::kUdp},  {true, L4Type::kIcmpv6}};

TEST(PacketChecksum, FillThenVerifyAgainstReference) {
  std::mt19937 rng(11);
  for (const Case& c : kCases) {
    for (size_t payload : {0, 1, 2, 3, 17, 100, 1001, 1460}) {
      for (size_t padding : {0, 5}) {
        Frame f = testing::make_frame(IpSpec{c.v6, c.l4, payload}, rng, padding);
        TestPacket p(f);
        ASSERT_EQ(fill_all(p.head()), CsumError::kOk);
        EXPECT_EQ(verify_all(p.head()), CsumError::kOk);
        EXPECT_EQ(verify_l4(p.head()), CsumError::kOk);
        std::vector<uint8_t> bytes = p.linear();
        uint32_t l4_len = static_cast<uint32_t>(f.bytes.size() - padding - f.meta.l4);
        EXPECT_EQ(reference_l4_fold(bytes, f.meta, c.v6, c.l4, l4_len), 0xffff);
        if (!c.v6) {
          EXPECT_EQ(verify_ipv4_header(p.head()), CsumError::kOk);
          EXPECT_TRUE(ipv4_header_valid(bytes.data() + f.meta.l3, 20));
        } else {
          EXPECT_EQ(verify_ipv4_header(p.head()), CsumError::kNoHeader);
        }
        // Any flipped bit in the L4 bytes is caught (not the UDP field: 0 means none).
        uint32_t at = f.meta.l4 + static_cast<uint32_t>(rng() % l4_len);
        if (at == f.meta.l4 + field_of(c.l4) || at == f.meta.l4 + field_of(c.l4) + 1)
          at = f.meta.l4;
        p.flip(at, 0x10);
        EXPECT_NE(verify_l4(p.head()), CsumError::kOk);  // bad checksum or bad UDP length
        p.flip(at, 0x10);
        if (!c.v6) {
          p.flip(f.meta.l3 + 8);  // TTL: not in the pseudo header
          EXPECT_EQ(verify_ipv4_header(p.head()), CsumError::kBadChecksum);
          EXPECT_EQ(verify_l4(p.head()), CsumError::kOk);
          EXPECT_EQ(verify_all(p.head()), CsumError::kBadChecksum);
        }
        // Padding is not summed.
        if (padding > 0) {
          p.flip(static_cast<uint32_t>(f.bytes.size() - 1));
          EXPECT_EQ(verify_l4(p.head()), CsumError::kOk);
        }
      }
    }
  }
}

TEST(PacketChecksum, ChainedWithOddSegments) {
  std::mt19937 rng(12);
  for (int trial = 0; trial < 300; trial++) {
    const Case& c = kCases[trial % 6];
    Frame f = testing::make_frame(IpSpec{c.v6, c.l4, rng() % 1600}, rng, trial % 3);
    TestPacket linear(f);
    ASSERT_EQ(fill_all(linear.head()), CsumError::kOk);
    std::vector<uint8_t> want = linear.linear();
    // The filled frame verifies in pieces; filling in pieces gives the same bytes.
    std::vector<uint32_t> split = testing::random_split(static_cast<uint32_t>(want.size()), rng);
    if (trial % 5 == 0) {  // a border inside the checksum field
      uint32_t field = f.meta.l4 + field_of(c.l4) + 1;
      split = {field, static_cast<uint32_t>(want.size()) - field};
    }
    TestPacket chained(want, split);
    testing::apply(chained.head(), f.meta);
    EXPECT_EQ(verify_all(chained.head()), CsumError::kOk) << trial;
    TestPacket unfilled(f, split);
    ASSERT_EQ(fill_all(unfilled.head()), CsumError::kOk);
    EXPECT_EQ(unfilled.linear(), want) << trial;
    chained.flip(static_cast<uint32_t>(want.size() - 1 - (trial % 3)), 0x04);
    EXPECT_NE(verify_all(chained.head()), CsumError::kOk) << trial;
  }
}

TEST(PacketChecksum, UdpZero) {
  std::mt19937 rng(13);
  for (bool v6 : {false, true}) {
    Frame f = testing::make_frame(IpSpec{v6, L4Type::kUdp, 64}, rng);
    TestPacket p(f);
    store_unaligned<uint16_t>(p.head().data() + f.meta.l4 + 6, 0);
    EXPECT_EQ(verify_l4(p.head()), v6 ? CsumError::kBadChecksum : CsumError::kOk);
    // A datagram whose checksum computes to 0 carries 0xffff.
    ASSERT_EQ(fill_l4(p.head()), CsumError::kOk);
    uint8_t* d = p.head().data();
    uint16_t c = load_unaligned<uint16_t>(d + f.meta.l4 + 6);
    uint16_t w = load_unaligned<uint16_t>(d + f.meta.l4 + 8);
    store_unaligned<uint16_t>(d + f.meta.l4 + 8, fold(uint32_t{w} + c));
    ASSERT_EQ(fill_l4(p.head()), CsumError::kOk);
    EXPECT_EQ(load_unaligned<uint16_t>(d + f.meta.l4 + 6), 0xffff);
    EXPECT_EQ(verify_l4(p.head()), CsumError::kOk);
  }
}

TEST(PacketChecksum, Tunnels) {
  std::mt19937 rng(14);
  for (bool outer_v6 : {false, true}) {
    for (const Case& c : kCases) {
      Frame f = testing::make_vxlan(outer_v6, IpSpec{c.v6, c.l4, 1 + rng() % 900}, rng);
      for (int chained = 0; chained < 2; chained++) {
        std::vector<uint32_t> split;
        if (chained) split = testing::random_split(static_cast<uint32_t>(f.bytes.size()), rng);
        TestPacket p(f, split);
        ASSERT_EQ(fill_all(p.head()), CsumError::kOk);
        EXPECT_EQ(verify_l4(p.head(), Layer::kInner), CsumError::kOk);
        EXPECT_EQ(verify_l4(p.head(), Layer::kOuter), CsumError::kOk);
        EXPECT_EQ(verify_all(p.head()), CsumError::kOk);
        if (!c.v6) {
          EXPECT_EQ(verify_ipv4_header(p.head(), Layer::kInner), CsumError::kOk);
        }
        // The last byte is inner payload: both the inner and the outer checksum see it.
        p.flip(static_cast<uint32_t>(f.bytes.size() - 1));
        EXPECT_EQ(verify_l4(p.head(), Layer::kInner), CsumError::kBadChecksum);
        EXPECT_EQ(verify_l4(p.head(), Layer::kOuter), CsumError::kBadChecksum);
      }
    }
  }
}

TEST(PacketChecksum, RejectsImpossibleHeaders) {
  std::mt19937 rng(15);
  Frame good = testing::make_frame(IpSpec{false, L4Type::kTcp, 50}, rng);
  auto check = [&](auto&& mutate, CsumError want) {
    Frame f = good;
    mutate(f);
    TestPacket p(f);
    EXPECT_EQ(verify_l4(p.head()), want);
    EXPECT_EQ(fill_l4(p.head()), want);
  };
  using testing::put_be16;
  check([](Frame& f) { f.meta.l3 = kNoOffset; }, CsumError::kNoHeader);
  check([](Frame& f) { f.meta.type.set_l4(L4Type::kNone); }, CsumError::kNoHeader);
  check([](Frame& f) { f.meta.type.set_l4(L4Type::kSctp); }, CsumError::kUnsupported);
  check([](Frame& f) { f.meta.type.set_l4(L4Type::kIcmpv6); }, CsumError::kUnsupported);
  check([](Frame& f) { f.meta.type.set_l4(L4Type::kFragment); }, CsumError::kFragment);
  check([](Frame& f) { put_be16(f.bytes, f.meta.l3 + 6, 0x2000); }, CsumError::kFragment);
  check([](Frame& f) { f.bytes[f.meta.l3] = 0x44; }, CsumError::kBadHeader);
  check([](Frame& f) { f.bytes[f.meta.l3] = 0x65; }, CsumError::kBadHeader);
  check([](Frame& f) { put_be16(f.bytes, f.meta.l3 + 2, 2000); }, CsumError::kTruncated);
  check([](Frame& f) { put_be16(f.bytes, f.meta.l3 + 2, 10); }, CsumError::kBadLength);
  check([](Frame& f) { f.meta.l4 = 60000; }, CsumError::kBadHeader);
  check([](Frame& f) { f.meta.l3 = 60000; }, CsumError::kTruncated);
  check([](Frame& f) { f.meta.l4 = static_cast<uint16_t>(f.bytes.size() - 4); },
        CsumError::kTruncated);
  check([](Frame& f) { f.bytes.resize(f.meta.l3 + 10); }, CsumError::kTruncated);
  Frame udp = testing::make_frame(IpSpec{true, L4Type::kUdp, 50}, rng);
  for (uint16_t bad_len : {0, 7, 59}) {
    testing::put_be16(udp.bytes, udp.meta.l4 + 4, bad_len);
    TestPacket p(udp);
    EXPECT_EQ(verify_l4(p.head()), CsumError::kBadLength);
  }
  // A shorter UDP length than the IP payload is honoured (the rest is not summed).
  testing::put_be16(udp.bytes, udp.meta.l4 + 4, 40);
  TestPacket p(udp);
  ASSERT_EQ(fill_l4(p.head()), CsumError::kOk);
  p.flip(static_cast<uint32_t>(udp.bytes.size() - 1));
  EXPECT_EQ(verify_l4(p.head()), CsumError::kOk);
  EXPECT_STREQ(to_string(CsumError::kCsumFieldBeyondEnd), "csum-field-beyond-end");
  EXPECT_STREQ(to_string(CsumError::kOk), "ok");
}

}  // namespace
}  // namespace ferry::csum
