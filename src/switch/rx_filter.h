#pragma once

// RxFilter: what a port's receiver wants, as a virtio-net guest programs it through its
// control queue. The bridge consults it before giving a frame to the port, so a guest
// that did not ask for promiscuous mode sees only its own unicast, the multicast it
// subscribed to and broadcast (seed 000: a bridge without promiscuous ports).
//
// The commands map one to one (include/uapi/linux/virtio_net.h):
//   VIRTIO_NET_CTRL_RX_PROMISC/ALLMULTI/ALLUNI/NOMULTI/NOUNI/NOBCAST -> set_rx_mode()
//   VIRTIO_NET_CTRL_MAC_TABLE_SET -> set_mac_table(), VIRTIO_NET_CTRL_MAC_ADDR_SET ->
//   set_mac(), VIRTIO_NET_CTRL_VLAN_ADD/DEL -> vlan_add()/vlan_del().
// The decision follows the order a virtio-net device uses: promiscuous accepts all; a
// tagged frame needs its VID in the VLAN filter (when the guest negotiated
// VIRTIO_NET_F_CTRL_VLAN); broadcast passes unless NOBCAST; multicast needs ALLMULTI, an
// overflowed or matching multicast table, and not NOMULTI; unicast needs ALLUNI, the
// port's own MAC, an overflowed or matching unicast table, and not NOUNI.
//
// A fresh RxFilter accepts everything (promiscuous), like a device before its driver
// programs it and like ports with no receive filter at all (a TAP to the host, an uplink).
// for_guest() is the state a virtio-net driver sets up: its MAC, broadcast, no extra
// multicast.

#include <array>
#include <cstdint>
#include <span>

#include "proto/ethernet.h"

namespace ferry::sw {

using proto::MacAddress;

class RxFilter {
 public:
  // Entries per table before the table counts as overflowed (accept all of that kind),
  // as in QEMU's virtio-net (MAC_TABLE_ENTRIES).
  static constexpr uint32_t kMacTableEntries = 64;

  RxFilter() = default;
  static RxFilter for_guest(const MacAddress& mac);

  // VIRTIO_NET_CTRL_RX_* command `cmd` with its on/off byte; false for an unknown command.
  bool set_rx_mode(uint8_t cmd, bool on);
  void set_promisc(bool on) { promisc_ = on; }
  void set_allmulti(bool on) { allmulti_ = on; }
  void set_alluni(bool on) { alluni_ = on; }
  void set_nomulti(bool on) { nomulti_ = on; }
  void set_nouni(bool on) { nouni_ = on; }
  void set_nobcast(bool on) { nobcast_ = on; }
  // VIRTIO_NET_CTRL_MAC_TABLE_SET: replaces both tables. More than kMacTableEntries in a
  // table sets its overflow (accept all of that kind).
  void set_mac_table(std::span<const MacAddress> unicast, std::span<const MacAddress> multicast);
  void set_mac(const MacAddress& mac) { mac_ = mac.to_u64(); }
  // VIRTIO_NET_F_CTRL_VLAN: when enabled, tagged frames need their VID added first.
  void enable_vlan_filter(bool on) { vlan_filter_ = on; }
  void vlan_add(uint16_t vid) {
    if (vid < 4096) vlans_[vid >> 6] |= uint64_t{1} << (vid & 63);
  }
  void vlan_del(uint16_t vid) {
    if (vid < 4096) vlans_[vid >> 6] &= ~(uint64_t{1} << (vid & 63));
  }

  // Does the port want a frame to dst, sent tagged with `vid` (tagged) or untagged?
  bool accepts(const MacAddress& dst, bool tagged, uint16_t vid) const;

  // Summaries the flooding code uses to skip per-frame table checks.
  bool promisc() const { return promisc_; }
  bool accepts_all_broadcast() const { return promisc_ || (!nobcast_ && !vlan_filter_); }
  bool accepts_all_multicast() const {
    return promisc_ || (!nomulti_ && (allmulti_ || multi_overflow_) && !vlan_filter_);
  }
  bool accepts_all_unicast() const {
    return promisc_ || (!nouni_ && (alluni_ || uni_overflow_) && !vlan_filter_);
  }
  const MacAddress mac() const { return MacAddress::from_u64(mac_); }

 private:
  bool in_vlan_filter(uint16_t vid) const { return (vlans_[vid >> 6] >> (vid & 63)) & 1; }

  bool promisc_ = true;
  bool allmulti_ = false;
  bool alluni_ = false;
  bool nomulti_ = false;
  bool nouni_ = false;
  bool nobcast_ = false;
  bool uni_overflow_ = false;
  bool multi_overflow_ = false;
  bool vlan_filter_ = false;
  uint8_t uni_count_ = 0;
  uint8_t multi_count_ = 0;
  uint64_t mac_ = 0;  // MacAddress::to_u64; 0 = none
  std::array<uint64_t, kMacTableEntries> uni_{};
  std::array<uint64_t, kMacTableEntries> multi_{};
  std::array<uint64_t, 64> vlans_{};
};

}  // namespace ferry::sw
