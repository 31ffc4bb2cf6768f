#include "port/net_control.h"

#include <vector>

#include <gtest/gtest.h>

#include "virtio/features.h"
#include "virtio/virtio_net_abi.h"

namespace ferry::port {
namespace {

using virtio::feature_bit;

constexpr uint64_t kAll =
    feature_bit(VIRTIO_NET_F_CTRL_VQ) | feature_bit(VIRTIO_NET_F_CTRL_RX) |
    feature_bit(VIRTIO_NET_F_CTRL_VLAN) | feature_bit(VIRTIO_NET_F_GUEST_ANNOUNCE) |
    feature_bit(VIRTIO_NET_F_MQ) | feature_bit(VIRTIO_NET_F_CTRL_MAC_ADDR) |
    feature_bit(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | feature_bit(VIRTIO_NET_F_GUEST_CSUM) |
    feature_bit(VIRTIO_NET_F_GUEST_TSO4);

uint8_t run(NetControl& c, std::vector<uint8_t> cmd) {
  return c.execute(cmd.data(), cmd.size());
}

TEST(NetControlTest, RxModes) {
  NetControl c(kAll, 4);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1}), VIRTIO_NET_OK);
  EXPECT_TRUE(c.state().filter.promisc);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, 1}), VIRTIO_NET_OK);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0}), VIRTIO_NET_OK);
  EXPECT_FALSE(c.state().filter.promisc);
  EXPECT_TRUE(c.state().filter.allmulti);
  // Bad value, missing value, extra modes without CTRL_RX_EXTRA.
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 2}), VIRTIO_NET_ERR);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC}), VIRTIO_NET_ERR);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, 1}), VIRTIO_NET_ERR);
  EXPECT_EQ(c.state().unknown, 1u);
  EXPECT_EQ(c.state().rejected, 3u);
  NetControl extra(kAll | feature_bit(VIRTIO_NET_F_CTRL_RX_EXTRA), 1);
  EXPECT_EQ(run(extra, {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, 1}), VIRTIO_NET_OK);
  EXPECT_TRUE(extra.state().filter.nobcast);
}

TEST(NetControlTest, MacTableAndAddress) {
  NetControl c(kAll, 1);
  std::vector<uint8_t> cmd = {VIRTIO_NET_CTRL_MAC,
                              VIRTIO_NET_CTRL_MAC_TABLE_SET,
                              1,
                              0,
                              0,
                              0,
                              0x52,
                              0x54,
                              0,
                              0,
                              0,
                              1,  // 1 unicast
                              2,
                              0,
                              0,
                              0,
                              0x01,
                              0,
                              0x5e,
                              0,
                              0,
                              1,  // 2 multicast
                              0x33,
                              0x33,
                              0,
                              0,
                              0,
                              1};
  EXPECT_EQ(run(c, cmd), VIRTIO_NET_OK);
  ASSERT_EQ(c.state().filter.unicast.size(), 1u);
  ASSERT_EQ(c.state().filter.multicast.size(), 2u);
  EXPECT_EQ(c.state().filter.multicast[1][0], 0x33);
  // Entries that run past the command, trailing bytes, a missing second list.
  std::vector<uint8_t> bad = cmd;
  bad[2] = 9;
  EXPECT_EQ(run(c, bad), VIRTIO_NET_ERR);
  bad = cmd;
  bad.push_back(0);
  EXPECT_EQ(run(c, bad), VIRTIO_NET_ERR);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, 0, 0, 0, 0}),
            VIRTIO_NET_ERR);
  EXPECT_EQ(c.state().filter.unicast.size(), 1u);  // unchanged by refused commands
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, 2, 0, 0, 0, 0, 7}),
            VIRTIO_NET_OK);
  EXPECT_TRUE(c.state().mac_set);
  EXPECT_EQ(c.state().filter.mac[5], 7);
  NetControl no_addr(feature_bit(VIRTIO_NET_F_CTRL_VQ), 1);
  EXPECT_EQ(run(no_addr, {VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, 2, 0, 0, 0, 0, 7}),
            VIRTIO_NET_ERR);
}

TEST(NetControlTest, VlanMqOffloadsAnnounce) {
  NetControl c(kAll, 4);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, 0x64, 0}), VIRTIO_NET_OK);
  EXPECT_TRUE(c.state().filter.vlans[100]);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL, 0x64, 0}), VIRTIO_NET_OK);
  EXPECT_FALSE(c.state().filter.vlans[100]);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, 0xff, 0xff}), VIRTIO_NET_ERR);

  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 3, 0}), VIRTIO_NET_OK);
  EXPECT_EQ(c.state().queue_pairs, 3);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 5, 0}), VIRTIO_NET_ERR);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 0, 0}), VIRTIO_NET_ERR);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG}), VIRTIO_NET_ERR);

  uint64_t off = feature_bit(VIRTIO_NET_F_GUEST_CSUM);
  std::vector<uint8_t> cmd = {VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET};
  for (int i = 0; i < 8; i++)
    cmd.push_back(static_cast<uint8_t>(off >> (8 * i)));
  EXPECT_EQ(run(c, cmd), VIRTIO_NET_OK);
  EXPECT_EQ(c.state().guest_offloads, off);
  cmd[2] = 0;
  cmd[3] = 0x40;  // GUEST_UFO (bit 14), not negotiated
  EXPECT_EQ(run(c, cmd), VIRTIO_NET_ERR);

  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK}), VIRTIO_NET_OK);
  EXPECT_EQ(c.state().announce_acks, 1u);
  EXPECT_EQ(run(c, {99, 0}), VIRTIO_NET_ERR);
  EXPECT_EQ(run(c, {}), VIRTIO_NET_ERR);
  EXPECT_GE(c.state().unknown, 2u);
}

TEST(NetControlTest, StartsPromiscuousAndCountsFilterChanges) {
  NetControl c(kAll, 1);
  EXPECT_TRUE(c.state().filter.promisc);  // a device out of reset, as QEMU's virtio-net
  EXPECT_EQ(c.state().filter_changes, 0u);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0}), VIRTIO_NET_OK);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, 0, 0, 0, 0, 0, 0, 0, 0}),
            VIRTIO_NET_OK);
  EXPECT_EQ(c.state().filter_changes, 2u);
  // Refused commands and other classes leave the filter alone.
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 2}), VIRTIO_NET_ERR);
  EXPECT_EQ(run(c, {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 1, 0}), VIRTIO_NET_OK);
  EXPECT_EQ(c.state().filter_changes, 2u);
}

}  // namespace
}  // namespace ferry::port
