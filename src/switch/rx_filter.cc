#include "switch/rx_filter.h"

// <linux/virtio_net.h> names a struct member `class`; rename it for C++.
#define class class_
#include <linux/virtio_net.h>
#undef class

namespace ferry::sw {

RxFilter RxFilter::for_guest(const MacAddress& mac) {
  RxFilter f;
  f.promisc_ = false;
  f.set_mac(mac);
  return f;
}

bool RxFilter::set_rx_mode(uint8_t cmd, bool on) {
  switch (cmd) {
    case VIRTIO_NET_CTRL_RX_PROMISC:
      promisc_ = on;
      return true;
    case VIRTIO_NET_CTRL_RX_ALLMULTI:
      allmulti_ = on;
      return true;
    case VIRTIO_NET_CTRL_RX_ALLUNI:
      alluni_ = on;
      return true;
    case VIRTIO_NET_CTRL_RX_NOMULTI:
      nomulti_ = on;
      return true;
    case VIRTIO_NET_CTRL_RX_NOUNI:
      nouni_ = on;
      return true;
    case VIRTIO_NET_CTRL_RX_NOBCAST:
      nobcast_ = on;
      return true;
    default:
      return false;
  }
}

void RxFilter::set_mac_table(std::span<const MacAddress> unicast,
                             std::span<const MacAddress> multicast) {
  uni_overflow_ = unicast.size() > kMacTableEntries;
  multi_overflow_ = multicast.size() > kMacTableEntries;
  uni_count_ = uni_overflow_ ? 0 : static_cast<uint8_t>(unicast.size());
  multi_count_ = multi_overflow_ ? 0 : static_cast<uint8_t>(multicast.size());
  for (uint32_t i = 0; i < uni_count_; i++)
    uni_[i] = unicast[i].to_u64();
  for (uint32_t i = 0; i < multi_count_; i++)
    multi_[i] = multicast[i].to_u64();
}

bool RxFilter::accepts(const MacAddress& dst, bool tagged, uint16_t vid) const {
  if (promisc_) return true;
  if (tagged && vlan_filter_ && !in_vlan_filter(vid & 0xfff)) return false;
  if (dst.is_multicast()) {
    if (dst.is_broadcast()) return !nobcast_;
    if (nomulti_) return false;
    if (allmulti_ || multi_overflow_) return true;
    uint64_t d = dst.to_u64();
    for (uint32_t i = 0; i < multi_count_; i++)
      if (multi_[i] == d) return true;
    return false;
  }
  if (nouni_) return false;
  if (alluni_ || uni_overflow_) return true;
  uint64_t d = dst.to_u64();
  if (d == mac_) return true;
  for (uint32_t i = 0; i < uni_count_; i++)
    if (uni_[i] == d) return true;
  return false;
}

}  // namespace ferry::sw
