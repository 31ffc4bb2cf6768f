#include "port/net_control.h"

#include <cstring>

#include "virtio/features.h"
#include "virtio/virtio_net_abi.h"

namespace ferry::port {

namespace {

uint16_t load_le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t load_le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return le32toh(v);
}
uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return le64toh(v);
}

// Reads one virtio_net_ctrl_mac list {le32 entries; u8 macs[entries][6]} at *pos.
bool read_mac_list(const uint8_t* data, size_t len, size_t* pos, std::vector<MacAddress>* out) {
  if (len - *pos < 4) return false;
  uint32_t entries = load_le32(data + *pos);
  *pos += 4;
  if (entries > NetControl::kMaxMacEntries || (len - *pos) / 6 < entries) return false;
  out->resize(entries);
  for (uint32_t i = 0; i < entries; i++) {
    std::memcpy((*out)[i].data(), data + *pos, 6);
    *pos += 6;
  }
  return true;
}

}  // namespace

NetControl::NetControl(uint64_t features, uint16_t max_queue_pairs)
    : features_(features), max_queue_pairs_(max_queue_pairs ? max_queue_pairs : 1) {}

uint8_t NetControl::unknown() {
  state_.unknown++;
  return VIRTIO_NET_ERR;
}

uint8_t NetControl::execute(const uint8_t* cmd, size_t len) {
  state_.commands++;
  uint8_t ack = VIRTIO_NET_ERR;
  if (len >= 2) {
    const uint8_t* data = cmd + 2;
    size_t dlen = len - 2;
    using virtio::has_feature;
    switch (cmd[0]) {
      case VIRTIO_NET_CTRL_RX:
        ack =
            has_feature(features_, VIRTIO_NET_F_CTRL_RX) ? rx_mode(cmd[1], data, dlen) : unknown();
        break;
      case VIRTIO_NET_CTRL_MAC:
        ack = mac(cmd[1], data, dlen);
        break;
      case VIRTIO_NET_CTRL_VLAN:
        ack = has_feature(features_, VIRTIO_NET_F_CTRL_VLAN) ? vlan(cmd[1], data, dlen) : unknown();
        break;
      case VIRTIO_NET_CTRL_ANNOUNCE:
        if (cmd[1] == VIRTIO_NET_CTRL_ANNOUNCE_ACK &&
            has_feature(features_, VIRTIO_NET_F_GUEST_ANNOUNCE)) {
          state_.announce_acks++;
          ack = VIRTIO_NET_OK;
        } else {
          ack = unknown();
        }
        break;
      case VIRTIO_NET_CTRL_MQ:
        ack = mq(cmd[1], data, dlen);
        break;
      case VIRTIO_NET_CTRL_GUEST_OFFLOADS:
        ack = offloads(cmd[1], data, dlen);
        break;
      default:
        ack = unknown();
        break;
    }
  }
  if (ack != VIRTIO_NET_OK) state_.rejected++;
  return ack;
}

uint8_t NetControl::rx_mode(uint8_t cmd, const uint8_t* data, size_t len) {
  bool* flag = nullptr;
  switch (cmd) {
    case VIRTIO_NET_CTRL_RX_PROMISC:
      flag = &state_.filter.promisc;
      break;
    case VIRTIO_NET_CTRL_RX_ALLMULTI:
      flag = &state_.filter.allmulti;
      break;
    case VIRTIO_NET_CTRL_RX_ALLUNI:
      flag = &state_.filter.alluni;
      break;
    case VIRTIO_NET_CTRL_RX_NOMULTI:
      flag = &state_.filter.nomulti;
      break;
    case VIRTIO_NET_CTRL_RX_NOUNI:
      flag = &state_.filter.nouni;
      break;
    case VIRTIO_NET_CTRL_RX_NOBCAST:
      flag = &state_.filter.nobcast;
      break;
    default:
      return unknown();
  }
  // The extra modes belong to CTRL_RX_EXTRA.
  if (cmd > VIRTIO_NET_CTRL_RX_ALLMULTI &&
      !virtio::has_feature(features_, VIRTIO_NET_F_CTRL_RX_EXTRA)) {
    return unknown();
  }
  if (len != 1 || data[0] > 1) return VIRTIO_NET_ERR;
  *flag = data[0] != 0;
  state_.filter_changes++;
  return VIRTIO_NET_OK;
}

uint8_t NetControl::mac(uint8_t cmd, const uint8_t* data, size_t len) {
  if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET) {
    if (!virtio::has_feature(features_, VIRTIO_NET_F_CTRL_RX)) return unknown();
    std::vector<MacAddress> uni, multi;
    size_t pos = 0;
    if (!read_mac_list(data, len, &pos, &uni) || !read_mac_list(data, len, &pos, &multi) ||
        pos != len) {
      return VIRTIO_NET_ERR;
    }
    state_.filter.unicast = std::move(uni);
    state_.filter.multicast = std::move(multi);
    state_.filter_changes++;
    return VIRTIO_NET_OK;
  }
  if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
    if (!virtio::has_feature(features_, VIRTIO_NET_F_CTRL_MAC_ADDR)) return unknown();
    if (len != 6) return VIRTIO_NET_ERR;
    std::memcpy(state_.filter.mac.data(), data, 6);
    state_.mac_set = true;
    state_.filter_changes++;
    return VIRTIO_NET_OK;
  }
  return unknown();
}

uint8_t NetControl::vlan(uint8_t cmd, const uint8_t* data, size_t len) {
  if (cmd != VIRTIO_NET_CTRL_VLAN_ADD && cmd != VIRTIO_NET_CTRL_VLAN_DEL) return unknown();
  if (len != 2) return VIRTIO_NET_ERR;
  uint16_t vid = load_le16(data);
  if (vid >= 4096) return VIRTIO_NET_ERR;
  state_.filter.vlans[vid] = cmd == VIRTIO_NET_CTRL_VLAN_ADD;
  state_.filter_changes++;
  return VIRTIO_NET_OK;
}

uint8_t NetControl::mq(uint8_t cmd, const uint8_t* data, size_t len) {
  if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || !virtio::has_feature(features_, VIRTIO_NET_F_MQ)) {
    return unknown();  // RSS and hash config are not offered
  }
  if (len != 2) return VIRTIO_NET_ERR;
  uint16_t pairs = load_le16(data);
  if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > max_queue_pairs_) return VIRTIO_NET_ERR;
  state_.queue_pairs = pairs;
  return VIRTIO_NET_OK;
}

uint8_t NetControl::offloads(uint8_t cmd, const uint8_t* data, size_t len) {
  if (cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET ||
      !virtio::has_feature(features_, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)) {
    return unknown();
  }
  if (len != 8) return VIRTIO_NET_ERR;
  uint64_t off = load_le64(data);
  // Only GUEST_* offloads that were negotiated may be switched (spec 5.1.6.5.6.2).
  constexpr uint64_t kGuestOffloads =
      virtio::feature_bit(VIRTIO_NET_F_GUEST_CSUM) | virtio::feature_bit(VIRTIO_NET_F_GUEST_TSO4) |
      virtio::feature_bit(VIRTIO_NET_F_GUEST_TSO6) | virtio::feature_bit(VIRTIO_NET_F_GUEST_ECN) |
      virtio::feature_bit(VIRTIO_NET_F_GUEST_UFO) | virtio::feature_bit(VIRTIO_NET_F_GUEST_USO4) |
      virtio::feature_bit(VIRTIO_NET_F_GUEST_USO6) | virtio::feature_bit(VIRTIO_NET_F_RSC_EXT);
  if (off & ~(features_ & kGuestOffloads)) return VIRTIO_NET_ERR;
  state_.guest_offloads = off;
  state_.guest_offloads_set = true;
  return VIRTIO_NET_OK;
}

}  // namespace ferry::port
