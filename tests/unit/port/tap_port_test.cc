// TapPort against the real /dev/net/tun, without traffic: set-up, offload negotiation and
// what happens on a TAP that is down. Skipped where /dev/net/tun cannot be used (no
// CAP_NET_ADMIN); the traffic tests are tests/interop/kport_netns_test.sh.

#include "port/tap_port.h"

#include <linux/if_tun.h>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "packet/packet_bytes.h"

namespace ferry::port {
namespace {

class TapPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BufferPool::Config c;
    c.name = "tap-test";
    c.buffer_count = 256;
    pool_ = BufferPool::create(c);
    ASSERT_TRUE(pool_);
    TapPortConfig probe;
    probe.ifname = name("p");
    probe.pool = pool_.get();
    probe.log = [](std::string_view) {};
    std::string error;
    if (!TapPort::create(probe, &error)) GTEST_SKIP() << "TAP unavailable: " << error;
  }
  void TearDown() override {
    if (pool_) {
      EXPECT_EQ(pool_->stats().in_use, 0u);
    }
  }
  static std::string name(const char* suffix) {
    return "fut" + std::to_string(getpid() % 100000) + suffix;
  }
  std::unique_ptr<TapPort> make(bool offloads, uint16_t queues = 1) {
    TapPortConfig c;
    c.ifname = name(offloads ? "on" : "off");
    c.queues = queues;
    c.offloads = offloads;
    c.pool = pool_.get();
    c.log = [](std::string_view) {};
    std::string error;
    auto p = TapPort::create(c, &error);
    EXPECT_TRUE(p) << error;
    return p;
  }
  std::unique_ptr<BufferPool> pool_;
};

TEST_F(TapPortTest, OffloadsNegotiated) {
  auto p = make(true);
  ASSERT_TRUE(p);
  unsigned k = p->kernel_offloads();
  EXPECT_EQ(k & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
  // USO4 and USO6 go together or not at all.
  EXPECT_TRUE((k & 0x60) == 0 || (k & 0x60) == 0x60) << std::hex << k;
  uint32_t caps = p->capabilities();
  for (uint32_t c : {kCapTxCsum, kCapTxTso4, kCapTxTso6, kCapRxCsum, kCapRxLarge}) {
    EXPECT_TRUE(caps & c) << c;
  }
  EXPECT_EQ(p->ifname(), name("on"));
  EXPECT_EQ(p->num_queues(), 1);
}

TEST_F(TapPortTest, OffloadsOff) {
  auto p = make(false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kernel_offloads(), 0u);
  EXPECT_EQ(p->capabilities(), 0u);
}

TEST_F(TapPortTest, MultiQueueHasOneFdPerQueue) {
  auto p = make(true, 3);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->num_queues(), 3);
  EXPECT_NE(p->fd(0), p->fd(1));
  EXPECT_NE(p->fd(1), p->fd(2));
  for (uint16_t q = 0; q < 3; q++) {
    EXPECT_TRUE(fcntl(p->fd(q), F_GETFL) & O_NONBLOCK);
  }
}

// A TAP that is down takes no frames: each is dropped as kNotReady and freed; nothing is
// received.
TEST_F(TapPortTest, DownInterface) {
  auto p = make(true);
  ASSERT_TRUE(p);
  Packet* pkts[4];
  for (auto*& pk : pkts)
    pk = packet_from_bytes(*pool_, std::vector<uint8_t>(60, 0xab));
  EXPECT_EQ(p->tx_burst(0, pkts, 4), 0);
  EXPECT_EQ(p->stats().tx.drops[static_cast<unsigned>(DropReason::kNotReady)], 4u);
  EXPECT_EQ(p->rx_burst(0, pkts, 4), 0);
  Packet* bad = packet_from_bytes(*pool_, std::vector<uint8_t>(60, 1));
  EXPECT_EQ(p->tx_burst(7, &bad, 1), 0);
  EXPECT_EQ(p->stats().tx.drops[static_cast<unsigned>(DropReason::kBadQueue)], 1u);
}

}  // namespace
}  // namespace ferry::port
