#pragma once

// What the parser found in a packet, packed into 32 bits (the idea of DPDK's RTE_PTYPE_*):
// one 4-bit field per layer, outer and inner, so that a classifier or an offload can test
// "is this VXLAN carrying TCP over IPv6" with one load and a compare.

#include <cstdint>

namespace ferry {

enum class L2Type : uint8_t { kNone = 0, kEther, kEtherVlan, kEtherQinq, kEtherArp, kEtherMpls };
enum class L3Type : uint8_t {
  kNone = 0,
  kIpv4,     // no options
  kIpv4Ext,  // with options
  kIpv6,     // no extension headers
  kIpv6Ext,  // with extension headers
  kOther,    // an EtherType the parser does not descend into
};
enum class L4Type : uint8_t {
  kNone = 0,
  kTcp,
  kUdp,
  kIcmp,
  kIcmpv6,
  kSctp,
  kFragment,  // a non-first fragment, or a first fragment the parser did not descend into
  kOther,
};
enum class TunnelType : uint8_t { kNone = 0, kGre, kVxlan, kGeneve, kIpInIp, kMpls };

class PacketType {
 public:
  constexpr PacketType() = default;
  constexpr explicit PacketType(uint32_t bits) : bits_(bits) {}

  constexpr uint32_t bits() const { return bits_; }

  constexpr L2Type l2() const { return static_cast<L2Type>(field(0)); }
  constexpr L3Type l3() const { return static_cast<L3Type>(field(4)); }
  constexpr L4Type l4() const { return static_cast<L4Type>(field(8)); }
  constexpr TunnelType tunnel() const { return static_cast<TunnelType>(field(12)); }
  constexpr L2Type inner_l2() const { return static_cast<L2Type>(field(16)); }
  constexpr L3Type inner_l3() const { return static_cast<L3Type>(field(20)); }
  constexpr L4Type inner_l4() const { return static_cast<L4Type>(field(24)); }

  constexpr void set_l2(L2Type v) { set_field(0, static_cast<uint32_t>(v)); }
  constexpr void set_l3(L3Type v) { set_field(4, static_cast<uint32_t>(v)); }
  constexpr void set_l4(L4Type v) { set_field(8, static_cast<uint32_t>(v)); }
  constexpr void set_tunnel(TunnelType v) { set_field(12, static_cast<uint32_t>(v)); }
  constexpr void set_inner_l2(L2Type v) { set_field(16, static_cast<uint32_t>(v)); }
  constexpr void set_inner_l3(L3Type v) { set_field(20, static_cast<uint32_t>(v)); }
  constexpr void set_inner_l4(L4Type v) { set_field(24, static_cast<uint32_t>(v)); }

  constexpr bool is_ipv4() const { return l3() == L3Type::kIpv4 || l3() == L3Type::kIpv4Ext; }
  constexpr bool is_ipv6() const { return l3() == L3Type::kIpv6 || l3() == L3Type::kIpv6Ext; }
  constexpr bool is_inner_ipv4() const {
    return inner_l3() == L3Type::kIpv4 || inner_l3() == L3Type::kIpv4Ext;
  }
  constexpr bool is_inner_ipv6() const {
    return inner_l3() == L3Type::kIpv6 || inner_l3() == L3Type::kIpv6Ext;
  }

  friend constexpr bool operator==(PacketType a, PacketType b) = default;

 private:
  constexpr uint32_t field(unsigned shift) const { return (bits_ >> shift) & 0xf; }
  constexpr void set_field(unsigned shift, uint32_t v) {
    bits_ = (bits_ & ~(0xfu << shift)) | ((v & 0xf) << shift);
  }

  uint32_t bits_ = 0;
};

const char* to_string(L2Type t);
const char* to_string(L3Type t);
const char* to_string(L4Type t);
const char* to_string(TunnelType t);

}  // namespace ferry
