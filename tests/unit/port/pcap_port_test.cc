#include "port/pcap_port.h"

#include <random>

#include <gtest/gtest.h>
#include <unistd.h>

#include "packet/packet_bytes.h"

namespace ferry::port {
namespace {

class PcapPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BufferPool::Config c;
    c.name = "pcap-port-test";
    c.buffer_count = 512;
    c.data_room = 1024;  // so that large frames are chained
    pool_ = BufferPool::create(c);
    ASSERT_TRUE(pool_);
    char tmpl[] = "/tmp/ferry-pcap-port-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const char* f : {"/a.pcap", "/b.pcap"})
      unlink((dir_ + f).c_str());
    rmdir(dir_.c_str());
    EXPECT_EQ(pool_->stats().in_use, 0u);
  }
  std::vector<std::vector<uint8_t>> frames(size_t n) {
    std::mt19937 rng(7);
    std::vector<std::vector<uint8_t>> out;
    for (size_t i = 0; i < n; i++) {
      std::vector<uint8_t> f(60 + rng() % 3000);
      for (auto& b : f)
        b = static_cast<uint8_t>(rng());
      out.push_back(std::move(f));
    }
    return out;
  }
  std::unique_ptr<BufferPool> pool_;
  std::string dir_;
};

// Packets sent to one port's tx come back, byte for byte, from another port's rx.
TEST_F(PcapPortTest, RecordThenReplay) {
  auto want = frames(100);
  std::string error;
  {
    PcapPortConfig c;
    c.tx_path = dir_ + "/a.pcap";
    auto rec = PcapPort::create(c, &error);
    ASSERT_TRUE(rec) << error;
    EXPECT_EQ(rec->capabilities() & kCapTxTso4, kCapTxTso4);
    for (size_t i = 0; i < want.size(); i += 10) {
      Packet* pkts[10];
      for (size_t k = 0; k < 10; k++)
        pkts[k] = packet_from_bytes(*pool_, want[i + k]);
      EXPECT_EQ(rec->tx_burst(0, pkts, 10), 10);
    }
    EXPECT_TRUE(rec->flush());
    EXPECT_EQ(rec->stats().tx.packets, 100u);
  }
  PcapPortConfig c;
  c.rx_path = dir_ + "/a.pcap";
  c.pool = pool_.get();
  auto rep = PcapPort::create(c, &error);
  ASSERT_TRUE(rep) << error;
  EXPECT_EQ(rep->frame_count(), 100u);
  std::vector<std::vector<uint8_t>> got;
  Packet* pkts[64];
  while (uint16_t n = rep->rx_burst(0, pkts, 64)) {
    for (uint16_t i = 0; i < n; i++) {
      got.push_back(packet_to_bytes(*pkts[i]));
      EXPECT_EQ(pkts[i]->csum_state(), CsumState::kNone);
    }
    free_packets(pkts, n);
  }
  EXPECT_EQ(got, want);
  EXPECT_TRUE(rep->replay_done());
  EXPECT_EQ(rep->stats().rx.packets, 100u);
  EXPECT_EQ(rep->stats().rx.bursts, 2u);
}

TEST_F(PcapPortTest, LoopingReplay) {
  auto want = frames(5);
  std::string error;
  {
    PcapPortConfig c;
    c.tx_path = dir_ + "/b.pcap";
    auto rec = PcapPort::create(c, &error);
    ASSERT_TRUE(rec) << error;
    for (auto& f : want) {
      Packet* p = packet_from_bytes(*pool_, f);
      rec->tx_burst(0, &p, 1);
    }
  }
  PcapPortConfig c;
  c.rx_path = dir_ + "/b.pcap";
  c.loop = true;
  c.pool = pool_.get();
  auto rep = PcapPort::create(c, &error);
  ASSERT_TRUE(rep) << error;
  Packet* pkts[32];
  ASSERT_EQ(rep->rx_burst(0, pkts, 32), 32);
  for (uint16_t i = 0; i < 32; i++)
    EXPECT_EQ(packet_to_bytes(*pkts[i]), want[i % 5]) << i;
  free_packets(pkts, 32);
  EXPECT_EQ(rep->loops(), 6u);
  EXPECT_FALSE(rep->replay_done());
}

TEST_F(PcapPortTest, ErrorsAndMissingSides) {
  std::string error;
  PcapPortConfig c;
  c.rx_path = dir_ + "/does-not-exist.pcap";
  c.pool = pool_.get();
  EXPECT_EQ(PcapPort::create(c, &error), nullptr);
  EXPECT_FALSE(error.empty());

  PcapPortConfig none;
  auto p = PcapPort::create(none, &error);
  ASSERT_TRUE(p);
  Packet* pkts[2] = {packet_from_bytes(*pool_, std::vector<uint8_t>(64, 1)),
                     packet_from_bytes(*pool_, std::vector<uint8_t>(64, 2))};
  EXPECT_EQ(p->tx_burst(0, pkts, 2), 0);
  EXPECT_EQ(p->stats().tx.drops[static_cast<unsigned>(DropReason::kNotReady)], 2u);
  EXPECT_EQ(p->rx_burst(0, pkts, 2), 0);
}

TEST_F(PcapPortTest, ReplaysARealCapture) {
  std::string error;
  PcapPortConfig c;
  c.rx_path = std::string(FERRY_TEST_DATA) + "/captures/" + "650HttpResponses.pcap";
  c.pool = pool_.get();
  auto rep = PcapPort::create(c, &error);
  ASSERT_TRUE(rep) << error;
  EXPECT_GT(rep->frame_count(), 0u);
  Packet* pkts[64];
  uint64_t total = 0;
  while (uint16_t n = rep->rx_burst(0, pkts, 64)) {
    total += n;
    free_packets(pkts, n);
  }
  EXPECT_EQ(total, rep->frame_count());
}

}  // namespace
}  // namespace ferry::port
