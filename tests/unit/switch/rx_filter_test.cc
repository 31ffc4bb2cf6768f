#include "switch/rx_filter.h"

#include <vector>

#include <gtest/gtest.h>

#define class class_
#include <linux/virtio_net.h>
#undef class

namespace ferry::sw {
namespace {

MacAddress mac(uint64_t v) {
  return MacAddress::from_u64(v);
}

const MacAddress kOwn = mac(0x525400000001);
const MacAddress kOther = mac(0x525400000002);
const MacAddress kMcast = mac(0x01005e000001);
const MacAddress kMcast2 = mac(0x333300000001);

TEST(RxFilter, DefaultIsPromiscuous) {
  RxFilter f;
  EXPECT_TRUE(f.accepts(kOther, false, 0));
  EXPECT_TRUE(f.accepts(kMcast, false, 0));
  EXPECT_TRUE(f.accepts_all_unicast());
}

TEST(RxFilter, GuestFilterTakesOwnMacAndBroadcastOnly) {
  RxFilter f = RxFilter::for_guest(kOwn);
  EXPECT_TRUE(f.accepts(kOwn, false, 0));
  EXPECT_FALSE(f.accepts(kOther, false, 0));
  EXPECT_TRUE(f.accepts(proto::kBroadcastMac, false, 0));
  EXPECT_FALSE(f.accepts(kMcast, false, 0));
  EXPECT_FALSE(f.accepts_all_unicast());
  EXPECT_FALSE(f.accepts_all_multicast());
  EXPECT_TRUE(f.accepts_all_broadcast());
}

TEST(RxFilter, EachRxModeCommand) {
  RxFilter f = RxFilter::for_guest(kOwn);
  ASSERT_TRUE(f.set_rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, true));
  EXPECT_TRUE(f.accepts(kOther, false, 0));
  f.set_rx_mode(VIRTIO_NET_CTRL_RX_PROMISC, false);
  EXPECT_FALSE(f.accepts(kOther, false, 0));

  ASSERT_TRUE(f.set_rx_mode(VIRTIO_NET_CTRL_RX_ALLMULTI, true));
  EXPECT_TRUE(f.accepts(kMcast, false, 0));
  EXPECT_FALSE(f.accepts(kOther, false, 0));
  ASSERT_TRUE(f.set_rx_mode(VIRTIO_NET_CTRL_RX_NOMULTI, true));
  EXPECT_FALSE(f.accepts(kMcast, false, 0));  // NOMULTI wins over ALLMULTI
  f.set_rx_mode(VIRTIO_NET_CTRL_RX_NOMULTI, false);
  f.set_rx_mode(VIRTIO_NET_CTRL_RX_ALLMULTI, false);

  ASSERT_TRUE(f.set_rx_mode(VIRTIO_NET_CTRL_RX_ALLUNI, true));
  EXPECT_TRUE(f.accepts(kOther, false, 0));
  ASSERT_TRUE(f.set_rx_mode(VIRTIO_NET_CTRL_RX_NOUNI, true));
  EXPECT_FALSE(f.accepts(kOther, false, 0));
  EXPECT_FALSE(f.accepts(kOwn, false, 0));
  f.set_rx_mode(VIRTIO_NET_CTRL_RX_NOUNI, false);
  f.set_rx_mode(VIRTIO_NET_CTRL_RX_ALLUNI, false);

  ASSERT_TRUE(f.set_rx_mode(VIRTIO_NET_CTRL_RX_NOBCAST, true));
  EXPECT_FALSE(f.accepts(proto::kBroadcastMac, false, 0));
  EXPECT_FALSE(f.accepts_all_broadcast());
  EXPECT_FALSE(f.set_rx_mode(42, true));
}

TEST(RxFilter, MacTable) {
  RxFilter f = RxFilter::for_guest(kOwn);
  std::vector<MacAddress> uni = {kOther};
  std::vector<MacAddress> multi = {kMcast};
  f.set_mac_table(uni, multi);
  EXPECT_TRUE(f.accepts(kOther, false, 0));
  EXPECT_TRUE(f.accepts(kMcast, false, 0));
  EXPECT_FALSE(f.accepts(kMcast2, false, 0));
  EXPECT_FALSE(f.accepts(mac(0x525400000003), false, 0));
  // The primary MAC is separate from the table (VIRTIO_NET_CTRL_MAC_ADDR_SET).
  f.set_mac(mac(0x525400000003));
  EXPECT_TRUE(f.accepts(mac(0x525400000003), false, 0));
  EXPECT_FALSE(f.accepts(kOwn, false, 0));
  // Overflowing tables accept all of their kind.
  std::vector<MacAddress> many(RxFilter::kMacTableEntries + 1, kMcast2);
  f.set_mac_table({}, many);
  EXPECT_FALSE(f.accepts(kOther, false, 0));
  EXPECT_TRUE(f.accepts(mac(0x01005e7f0001), false, 0));
  EXPECT_TRUE(f.accepts_all_multicast());
}

TEST(RxFilter, VlanFilter) {
  RxFilter f = RxFilter::for_guest(kOwn);
  f.enable_vlan_filter(true);
  EXPECT_FALSE(f.accepts(kOwn, true, 10));
  EXPECT_TRUE(f.accepts(kOwn, false, 10));  // untagged frames are not VLAN-filtered
  f.vlan_add(10);
  EXPECT_TRUE(f.accepts(kOwn, true, 10));
  EXPECT_FALSE(f.accepts(proto::kBroadcastMac, true, 11));
  f.vlan_del(10);
  EXPECT_FALSE(f.accepts(kOwn, true, 10));
}

}  // namespace
}  // namespace ferry::sw
