#pragma once

// Anti-spoofing (port security): a port locked to the MAC and IP addresses its guest was
// given. With macs non-empty every frame's source MAC must be one of them (and so must an
// ARP sender's hardware address). With lock_ip, IPv4
// sources, ARP sender addresses and IPv6 sources must be in ipv4 / ipv6, and a neighbour
// advertisement may only advertise one of the port's IPv6 addresses. Unspecified source
// addresses are allowed where the protocols need them before an address is held: DHCPv4
// from 0.0.0.0, ARP probes (sender 0.0.0.0), IPv6 duplicate address detection from ::.
// Frames that are neither IP nor ARP are checked by MAC only.

#include <cstdint>
#include <vector>

#include "packet/packet.h"
#include "proto/ethernet.h"
#include "proto/ipv6.h"

namespace ferry::sw {

enum class SpoofVerdict : uint8_t { kOk, kSrcMac, kIpv4Src, kIpv6Src, kArp, kNd };

struct SpoofGuard {
  std::vector<proto::MacAddress> macs;
  bool lock_ip = false;
  std::vector<uint32_t> ipv4;  // host byte order
  std::vector<proto::Ipv6Address> ipv6;

  bool enabled() const { return !macs.empty() || lock_ip; }
  bool mac_allowed(const proto::MacAddress& m) const;
  bool ipv4_allowed(uint32_t ip) const;
  bool ipv6_allowed(const proto::Ipv6Address& ip) const;

  // Checks a parsed frame (untagged by the bridge: offsets as the packet says).
  SpoofVerdict check(const Packet& packet) const;
};

}  // namespace ferry::sw
