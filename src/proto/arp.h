#pragma once

// ARP (RFC 826). ArpHeader is the fixed part; ArpEthIpv4 the common Ethernet/IPv4 form.

#include <cstdint>

#include <net/if_arp.h>

#include "base/byteorder.h"
#include "proto/ethernet.h"

namespace ferry::proto {

struct ArpHeader {
  Be16 hw_type;     // ARPHRD_ETHER
  Be16 proto_type;  // ETH_P_IP
  uint8_t hw_len;
  uint8_t proto_len;
  Be16 op;  // ARPOP_REQUEST, ARPOP_REPLY, ...

  // Bytes of the whole message: fixed part plus sender and target addresses.
  uint32_t message_len() const { return sizeof(ArpHeader) + 2u * (hw_len + proto_len); }
  bool is_ether_ipv4() const {
    return hw_type.value() == ARPHRD_ETHER && proto_type.value() == ETH_P_IP &&
           hw_len == ETH_ALEN && proto_len == 4;
  }
};
static_assert(sizeof(ArpHeader) == 8 && alignof(ArpHeader) == 1);

struct ArpEthIpv4 {
  ArpHeader header;
  MacAddress sender_mac;
  Be32 sender_ip;
  MacAddress target_mac;
  Be32 target_ip;
};
static_assert(sizeof(ArpEthIpv4) == 28 && alignof(ArpEthIpv4) == 1);

}  // namespace ferry::proto
