#include "packet/packet_type.h"

namespace ferry {

const char* to_string(L2Type t) {
  switch (t) {
    case L2Type::kNone:
      return "none";
    case L2Type::kEther:
      return "ether";
    case L2Type::kEtherVlan:
      return "ether-vlan";
    case L2Type::kEtherQinq:
      return "ether-qinq";
    case L2Type::kEtherArp:
      return "ether-arp";
    case L2Type::kEtherMpls:
      return "ether-mpls";
  }
  return "?";
}

const char* to_string(L3Type t) {
  switch (t) {
    case L3Type::kNone:
      return "none";
    case L3Type::kIpv4:
      return "ipv4";
    case L3Type::kIpv4Ext:
      return "ipv4-options";
    case L3Type::kIpv6:
      return "ipv6";
    case L3Type::kIpv6Ext:
      return "ipv6-ext";
    case L3Type::kOther:
      return "other";
  }
  return "?";
}

const char* to_string(L4Type t) {
  switch (t) {
    case L4Type::kNone:
      return "none";
    case L4Type::kTcp:
      return "tcp";
    case L4Type::kUdp:
      return "udp";
    case L4Type::kIcmp:
      return "icmp";
    case L4Type::kIcmpv6:
      return "icmpv6";
    case L4Type::kSctp:
      return "sctp";
    case L4Type::kFragment:
      return "fragment";
    case L4Type::kOther:
      return "other";
  }
  return "?";
}

const char* to_string(TunnelType t) {
  switch (t) {
    case TunnelType::kNone:
      return "none";
    case TunnelType::kGre:
      return "gre";
    case TunnelType::kVxlan:
      return "vxlan";
    case TunnelType::kGeneve:
      return "geneve";
    case TunnelType::kIpInIp:
      return "ip-in-ip";
    case TunnelType::kMpls:
      return "mpls";
  }
  return "?";
}

}  // namespace ferry
