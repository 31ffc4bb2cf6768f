#include "steer/toeplitz.h"

#include <random>
#include <vector>

#include <arpa/inet.h>

#include <gtest/gtest.h>

namespace ferry::steer {
namespace {

// Microsoft, "Verifying the RSS Hash Calculation" (Windows driver documentation,
// learn.microsoft.com/windows-hardware/drivers/network/verifying-the-rss-hash-calculation),
// also printed as the "RSS Verification Suite" of the Intel 82599 datasheet (7.1.2.8.3).
// Key: kMicrosoftKey. Input: source address, destination address[, source port,
// destination port], network byte order.
struct V4Vector {
  const char* dst;
  uint16_t dst_port;
  const char* src;
  uint16_t src_port;
  uint32_t ip;   // IPv4 (2-tuple)
  uint32_t tcp;  // TCPv4 (4-tuple)
};
constexpr V4Vector kV4[] = {
    {"161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178},
    {"65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea},
    {"12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a},
    {"209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f},
    {"202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2},
};
struct V6Vector {
  const char* dst;
  uint16_t dst_port;
  const char* src;
  uint16_t src_port;
  uint32_t ip;
  uint32_t tcp;
};
constexpr V6Vector kV6[] = {
    {"3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x2cc18cd5, 0x40207d3d},
    {"ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0x0f0c461c, 0xdde51bbf},
    {"fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, 0x4b61e985,
     0x02d1feef},
};

std::vector<uint8_t> tuple(int family, const char* src, const char* dst, uint16_t sport,
                           uint16_t dport, bool ports) {
  const size_t alen = family == AF_INET ? 4 : 16;
  std::vector<uint8_t> v(2 * alen + (ports ? 4 : 0));
  EXPECT_EQ(inet_pton(family, src, v.data()), 1);
  EXPECT_EQ(inet_pton(family, dst, v.data() + alen), 1);
  if (ports) {
    v[2 * alen] = static_cast<uint8_t>(sport >> 8);
    v[2 * alen + 1] = static_cast<uint8_t>(sport);
    v[2 * alen + 2] = static_cast<uint8_t>(dport >> 8);
    v[2 * alen + 3] = static_cast<uint8_t>(dport);
  }
  return v;
}

std::vector<ToeplitzVariant> variants() {
  std::vector<ToeplitzVariant> v = {ToeplitzVariant::kReference, ToeplitzVariant::kTable};
  if (toeplitz_supported(ToeplitzVariant::kGfni)) v.push_back(ToeplitzVariant::kGfni);
  return v;
}

TEST(Toeplitz, MicrosoftVectorsIpv4) {
  ToeplitzKey key(kMicrosoftKey);
  for (ToeplitzVariant var : variants()) {
    SCOPED_TRACE(to_string(var));
    for (const V4Vector& t : kV4) {
      auto two = tuple(AF_INET, t.src, t.dst, t.src_port, t.dst_port, false);
      auto four = tuple(AF_INET, t.src, t.dst, t.src_port, t.dst_port, true);
      EXPECT_EQ(key.hash(var, two.data(), two.size()), t.ip) << t.src;
      EXPECT_EQ(key.hash(var, four.data(), four.size()), t.tcp) << t.src;
    }
  }
}

TEST(Toeplitz, MicrosoftVectorsIpv6) {
  ToeplitzKey key(kMicrosoftKey);
  for (ToeplitzVariant var : variants()) {
    SCOPED_TRACE(to_string(var));
    for (const V6Vector& t : kV6) {
      auto two = tuple(AF_INET6, t.src, t.dst, t.src_port, t.dst_port, false);
      auto four = tuple(AF_INET6, t.src, t.dst, t.src_port, t.dst_port, true);
      EXPECT_EQ(key.hash(var, two.data(), two.size()), t.ip) << t.src;
      EXPECT_EQ(key.hash(var, four.data(), four.size()), t.tcp) << t.src;
    }
  }
}

TEST(Toeplitz, MicrosoftVectorsThroughReferenceFunctionAndPairs) {
  ToeplitzKey key(kMicrosoftKey);
  auto a = tuple(AF_INET, kV4[0].src, kV4[0].dst, kV4[0].src_port, kV4[0].dst_port, true);
  auto b = tuple(AF_INET6, kV6[2].src, kV6[2].dst, kV6[2].src_port, kV6[2].dst_port, true);
  EXPECT_EQ(toeplitz_reference(kMicrosoftKey, a), kV4[0].tcp);
  uint32_t ha = 0, hb = 0;
  key.hash_pair(a.data(), a.size(), b.data(), b.size(), &ha, &hb);
  EXPECT_EQ(ha, kV4[0].tcp);
  EXPECT_EQ(hb, kV6[2].tcp);
  key.hash_pair(b.data(), b.size(), a.data(), 8, &ha, &hb);
  EXPECT_EQ(ha, kV6[2].tcp);
  EXPECT_EQ(hb, kV4[0].ip);
}

TEST(Toeplitz, AllVariantsAgreeOnRandomKeysAndInputs) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; round++) {
    const size_t key_len = (round % 3 == 0)   ? kMaxKeyLen
                           : (round % 3 == 1) ? kNicKeyLen
                                              : rng() % 53;
    std::vector<uint8_t> k(key_len);
    for (auto& b : k)
      b = static_cast<uint8_t>(rng());
    ToeplitzKey key(k);
    for (size_t len = 0; len <= kMaxInputLen; len++) {
      uint8_t in[kMaxInputLen], in2[kMaxInputLen];
      for (size_t i = 0; i < len; i++) {
        in[i] = static_cast<uint8_t>(rng());
        in2[i] = static_cast<uint8_t>(rng());
      }
      const uint32_t want = toeplitz_reference(k, {in, len});
      for (ToeplitzVariant var : variants()) {
        ASSERT_EQ(key.hash(var, in, len), want)
            << to_string(var) << " key_len " << key_len << " len " << len;
      }
      EXPECT_EQ(key.hash(in, len), want);
      const size_t len2 = rng() % (kMaxInputLen + 1);
      uint32_t ha, hb;
      key.hash_pair(in, len, in2, len2, &ha, &hb);
      ASSERT_EQ(ha, want);
      ASSERT_EQ(hb, toeplitz_reference(k, {in2, len2}));
    }
  }
}

TEST(Toeplitz, InputLongerThanMaxIsClamped) {
  ToeplitzKey key(kMicrosoftKey);
  uint8_t in[64];
  for (size_t i = 0; i < sizeof in; i++)
    in[i] = static_cast<uint8_t>(i * 37 + 1);
  for (ToeplitzVariant var : variants()) {
    EXPECT_EQ(key.hash(var, in, sizeof in), key.hash(var, in, kMaxInputLen));
  }
}

TEST(Toeplitz, SymmetricKeyGivesEqualHashesBothWays) {
  ToeplitzKey key(kSymmetricKey);
  ToeplitzKey asym(kMicrosoftKey);
  int asym_equal = 0;
  for (const V4Vector& t : kV4) {
    auto fwd = tuple(AF_INET, t.src, t.dst, t.src_port, t.dst_port, true);
    auto rev = tuple(AF_INET, t.dst, t.src, t.dst_port, t.src_port, true);
    EXPECT_EQ(key.hash(fwd.data(), fwd.size()), key.hash(rev.data(), rev.size()));
    asym_equal += asym.hash(fwd.data(), fwd.size()) == asym.hash(rev.data(), rev.size());
  }
  for (const V6Vector& t : kV6) {
    auto fwd = tuple(AF_INET6, t.src, t.dst, t.src_port, t.dst_port, true);
    auto rev = tuple(AF_INET6, t.dst, t.src, t.dst_port, t.src_port, true);
    EXPECT_EQ(key.hash(fwd.data(), fwd.size()), key.hash(rev.data(), rev.size()));
  }
  EXPECT_EQ(asym_equal, 0);
}

TEST(Toeplitz, VariantNames) {
  EXPECT_STREQ(to_string(ToeplitzVariant::kGfni), "gfni");
  EXPECT_TRUE(toeplitz_supported(ToeplitzVariant::kTable));
  EXPECT_NE(ToeplitzKey::best_variant(), ToeplitzVariant::kReference);
}

}  // namespace
}  // namespace ferry::steer
