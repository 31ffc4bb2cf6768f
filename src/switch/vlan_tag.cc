#include "switch/vlan_tag.h"

#include <cstring>

#include "base/byteorder.h"
#include "proto/ethernet.h"

namespace ferry::sw {
namespace {

constexpr uint32_t kMacsLen = 2 * ETH_ALEN;
constexpr uint32_t kTagLen = 4;

L2Type l2_after_pop(L2Type t) {
  switch (t) {
    case L2Type::kEtherQinq:
      return L2Type::kEtherVlan;
    case L2Type::kEtherVlan:
      return L2Type::kEther;
    default:
      return t;
  }
}

L2Type l2_after_push(L2Type t) {
  switch (t) {
    case L2Type::kEther:
      return L2Type::kEtherVlan;
    case L2Type::kEtherVlan:
      return L2Type::kEtherQinq;
    default:
      return t;
  }
}

// A COMPLETE sum starting inside the moved bytes no longer describes the frame.
void fix_complete_csum(Packet& p, uint32_t changed_end) {
  if (p.csum_state() == CsumState::kComplete && p.csum_start() < changed_end) p.set_csum_none();
}

}  // namespace

OuterTag read_outer_tag(const Packet& packet) {
  OuterTag t;
  if (packet.data_len() < kMacsLen + kTagLen) return t;
  t.tpid = load_be16(packet.data() + kMacsLen);
  t.tci = load_be16(packet.data() + kMacsLen + 2);
  return t;
}

bool pop_vlan_tag(Packet& packet) {
  if (packet.data_len() < kMacsLen + kTagLen + 2) return false;
  fix_complete_csum(packet, kMacsLen + kTagLen);
  uint8_t* d = packet.data();
  std::memmove(d + kTagLen, d, kMacsLen);
  packet.adj(kTagLen);
  packet.shift_offsets(-static_cast<int>(kTagLen));
  PacketType t = packet.packet_type();
  t.set_l2(l2_after_pop(t.l2()));
  packet.set_packet_type(t);
  return true;
}

bool push_vlan_tag(Packet& packet, uint16_t tpid, uint16_t tci) {
  if (packet.data_len() < kMacsLen + 2 || packet.headroom() < kTagLen) return false;
  fix_complete_csum(packet, kMacsLen);
  uint8_t* d = packet.prepend(kTagLen);
  std::memmove(d, d + kTagLen, kMacsLen);
  store_be16(d + kMacsLen, tpid);
  store_be16(d + kMacsLen + 2, tci);
  packet.shift_offsets(static_cast<int>(kTagLen));
  PacketType t = packet.packet_type();
  t.set_l2(l2_after_push(t.l2()));
  packet.set_packet_type(t);
  return true;
}

}  // namespace ferry::sw
